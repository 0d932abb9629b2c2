"""The CrossGuard pack run as `pulumi preview --policy-pack infra/policy` runs it: the pack's own process
(pulumi_policy's PolicyPack serving the Analyzer gRPC service and printing its port), and this test playing the
Pulumi engine's side of that protocol (pulumi/proto/analyzer.proto: GetAnalyzerInfo, then Analyze per resource
with properties as a Struct, options and provider as the engine fills them). The oracle is pulumi_policy itself:
its argument deserialisation, enforcement levels and violation reporting — none of it written here."""
from __future__ import annotations

import subprocess
import sys

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from dcops import PROJECT_ROOT
from dcops.cloud.crossguard import POLICIES

from .test_crossguard import SEEDED_SUBJECTS, seeded_bad_resources

pytestmark = pytest.mark.slow
PACK = PROJECT_ROOT / "infra" / "policy"
STACK = "urn:pulumi:prod::dcops-cloud::"


@pytest.fixture(scope="module")
def analyzer():
    proc = subprocess.Popen([sys.executable, "-u", "__main__.py"], cwd=PACK, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), f"the pack printed no port: {proc.stderr.read() if proc.poll() is not None else ''}"
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        yield analyzer_pb2_grpc.AnalyzerStub(channel)
        channel.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _urn(type_: str, name: str) -> str:
    return f"{STACK}{type_}::{name}"


def _request(r: dict) -> analyzer_pb2.AnalyzeRequest:
    """A plan resource as the engine sends it to an analyzer during preview."""
    props = struct_pb2.Struct()
    json_format.ParseDict(r["inputs"], props)
    opts = r.get("options") or {}
    parent = r.get("parent")
    options = analyzer_pb2.AnalyzerResourceOptions(
        protect=bool(r.get("protect")), ignoreChanges=opts.get("ignoreChanges", []),
        deleteBeforeReplace=bool(opts.get("deleteBeforeReplace")),
        deleteBeforeReplaceDefined="deleteBeforeReplace" in opts, aliases=opts.get("aliases", []),
        parent=_urn(*parent.split("::", 1)) if parent else "")
    req = analyzer_pb2.AnalyzeRequest(type=r["type"], properties=props, urn=_urn(r["type"], r["name"]),
                                      name=r["name"], options=options)
    if r.get("provider"):
        req.provider.CopyFrom(analyzer_pb2.AnalyzerProviderResource(
            type="pulumi:providers:openstack", name=r["provider"],
            urn=_urn("pulumi:providers:openstack", r["provider"])))
    return req


def test_the_pack_registers_every_policy_as_mandatory(analyzer):
    info = analyzer.GetAnalyzerInfo(analyzer_pb2.google_dot_protobuf_dot_empty__pb2.Empty(), timeout=30)
    assert info.name == "dcops-cloud"
    assert {p.name for p in info.policies} == set(POLICIES)
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}


def test_seeded_bad_resources_are_mandatory_violations_through_the_engine_protocol(analyzer, prod):
    got: dict[str, list[str]] = {}
    for r in seeded_bad_resources(prod.plan):
        for d in analyzer.Analyze(_request(r), timeout=60).diagnostics:
            assert d.enforcementLevel == analyzer_pb2.MANDATORY and d.policyPackName == "dcops-cloud"
            # pulumi_policy reports "<policy description>\n<violation>"; the violation starts with the subject
            assert d.message.startswith(POLICIES[d.policyName][0] + "\n")
            got.setdefault(d.policyName, []).append(d.message.split("\n", 1)[1].split(":", 1)[0])
    assert {p: sorted(v) for p, v in got.items()} == SEEDED_SUBJECTS


def test_the_shipped_plan_passes_the_pack(analyzer, prod):
    flagged = [(r["name"], d.policyName, d.message) for r in prod.plan["resources"]
               for d in analyzer.Analyze(_request(r), timeout=60).diagnostics]
    assert flagged == []
    assert len(prod.plan["resources"]) > 1000  # the whole site went through the protocol, not a sample
