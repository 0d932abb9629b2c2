"""Run the Pulumi program offline: the SDK's mock runtime, no engine, no CLI, no cloud, no network.

`run_offline()` loads a stack's config from `Pulumi.<stack>.yaml`, runs the program in a fresh
context under a recording mock monitor and returns every registered resource with its
inputs. Mock IDs are derived from the resource (``<networking/port:web-01-port>``) so that a
reference to another resource reads as that resource in the plan, and the plan is
deterministic.

Speed: the stock mock runtime spends most of its time on the SDK's per-resource
bookkeeping, not on mocks (bench/bench_plan.py --profile shows it). `fast=True` applies the
offline-only SHORTCUTS below; tests/cloud/test_plan_json.py proves the plan byte-identical
with and without them, and bench/bench_plan.py --shortcuts measures each one.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import json
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from google.protobuf import json_format, struct_pb2
from ruamel.yaml import YAML

from .. import PROJECT_ROOT

PROJECT = "dcops-cloud"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SIG_KEY = "4dabf18193072939515e22adb298388d"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
REDACTED = "[secret]"
#: outputs the program reads besides `id`
COMPUTED = {"openstack:loadbalancer/loadBalancer:LoadBalancer": {"vipPortId": "<networking/port:{name}-vip>"}}


class StackConfigInvalid(ValueError):
    pass


#: config keys that must only ever be `pulumi config set --secret` values in a stack file
SECRET_KEY = re.compile(r"(password|secret|token|private|passphrase|publickey|credential)", re.I)


@dataclass(frozen=True)
class Recorded:
    type: str
    name: str
    urn: str
    parent_urn: str | None
    provider_urn: str | None
    custom: bool
    inputs: dict
    #: logical names (type::name) of everything the engine would wait for before this resource
    dependencies: tuple[str, ...] = ()
    #: `pulumi up` refuses to delete it until `pulumi state unprotect`
    protect: bool = False
    #: the other resource options `pulumi up` acts on (deleteBeforeReplace, ignoreChanges,
    #: retainOnDelete, aliases), only those set
    options: tuple[tuple[str, Any], ...] = ()


def stack_file(stack: str, root: Path = PROJECT_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def load_stack_config(stack: str, root: Path = PROJECT_ROOT) -> tuple[dict[str, str], list[str]]:
    """`Pulumi.<stack>.yaml` as the engine hands it to the program: values as strings (objects as
    JSON), secure values replaced by a placeholder and flagged secret."""
    path = stack_file(stack, root)
    try:
        doc = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise StackConfigInvalid(f"{path}: {e.strerror}") from e
    except Exception as e:  # ruamel raises many kinds
        raise StackConfigInvalid(f"{path}: not YAML: {e}") from e
    raw = doc.get("config") or {}
    if not isinstance(raw, dict):
        raise StackConfigInvalid(f"{path}: 'config' must be a mapping")
    config, secrets = {}, []
    for key, value in raw.items():
        if ":" not in key:
            raise StackConfigInvalid(f"{path}: config key {key!r} lacks a namespace (e.g. dcops:{key})")
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = REDACTED
            secrets.append(key)
        elif SECRET_KEY.search(key.split(":", 1)[1]):
            raise StackConfigInvalid(f"{path}: {key} is in plain text; remove it from git history and set it "
                                     f"with `pulumi config set --secret {key}` or the environment")
        elif isinstance(value, str):
            config[key] = value
        elif isinstance(value, bool):
            config[key] = "true" if value else "false"
        else:
            config[key] = json.dumps(value, sort_keys=True, ensure_ascii=False)
    # Required secrets a CI runner does not have: offline they are placeholders, never values.
    required = ["dcops:opsPublicKey"]
    if "dcops:bacula" in config:  # the director's passwords (dcops.cloud.settings.BaculaSettings)
        required += ["dcops:baculaFdPassword", "dcops:baculaSdPassword"]
    for key in required:
        if key not in config:
            config[key] = REDACTED
            secrets.append(key)
    return config, secrets


def canonical(value: Any) -> Any:
    """Protobuf-JSON inputs -> plain JSON: secrets redacted, unknowns marked, whole floats as ints."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return REDACTED
        if SIG_KEY in value:  # resource reference or output value
            return {k: canonical(v) for k, v in sorted(value.items()) if k != SIG_KEY}
        return {k: canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value == UNKNOWN:
        return "[unknown]"
    return value


def mock_id(typ: str, name: str) -> str:
    tail = typ.split(":")[1] if typ.count(":") >= 2 else typ
    return f"<{tail}:{name}>"


def _struct(d: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d)
    return s


def _make_monitor():
    from pulumi.runtime import mocks, rpc
    from pulumi.runtime.proto import resource_pb2

    class Recording(mocks.Mocks):
        def new_resource(self, args):
            state = {k: v.format(name=args.name) for k, v in COMPUTED.get(args.typ, {}).items()}
            return mock_id(args.typ, args.name), state

        def call(self, args):
            tok, a = args.token, args.args
            name = a.get("name") or tok.rsplit(":", 1)[-1]
            return {"id": mock_id(tok.replace("get", "", 1), name), "name": name}

    class Monitor(mocks.MockMonitor):
        """Records each registration; answers synchronously (safe to call on the loop thread)."""

        def __init__(self):
            super().__init__(Recording())
            self.recorded: list[Recorded] = []

        def RegisterResource(self, request):
            urn = self.make_urn(request.parent, request.type, request.name)
            if request.type == "pulumi:pulumi:Stack":
                return resource_pb2.RegisterResourceResponse(urn=urn)
            inputs = canonical(json_format.MessageToDict(request.object))
            provider = request.provider.rsplit("::", 1)[0] if request.provider else None
            deps = tuple(sorted(u.split("::", 2)[2].rsplit("$", 1)[-1] for u in request.dependencies))
            self.recorded.append(Recorded(request.type, request.name, urn, request.parent or None, provider,
                                          bool(request.custom), inputs, deps, bool(request.protect),
                                          _options(request)))
            if request.type.startswith("pulumi:providers:"):
                id_, state = mock_id(request.type, request.name), {}
            else:
                id_, state = self.mocks.new_resource(mocks.MockResourceArgs(
                    typ=request.type, name=request.name, inputs={}, provider=request.provider,
                    custom=bool(request.custom)))
            self.resources[urn] = mocks.MockMonitor.ResourceRegistration(urn, id_, state)
            return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=_struct(state))

        def Invoke(self, request):
            args = rpc.deserialize_properties(request.args)
            ret = self.mocks.call(mocks.MockCallArgs(token=request.tok, args=args, provider=request.provider))
            return resource_pb2.ResourceInvokeResponse(failures=None, **{"return": _struct(ret)})

    return Monitor()


def _options(request) -> tuple[tuple[str, Any], ...]:
    opts = []
    if request.deleteBeforeReplace:
        opts.append(("deleteBeforeReplace", True))
    if request.ignoreChanges:
        opts.append(("ignoreChanges", sorted(request.ignoreChanges)))
    if request.HasField("retainOnDelete") and request.retainOnDelete:
        opts.append(("retainOnDelete", True))
    aliases = sorted(a.spec.name or a.urn for a in request.aliases)
    if aliases:
        opts.append(("aliases", aliases))
    return tuple(opts)


class _InlineLoop(asyncio.SelectorEventLoop):
    def run_in_executor(self, executor, func, *args):
        fut = self.create_future()
        try:
            fut.set_result(func(*args))
        except BaseException as e:  # noqa: BLE001 - delivered to the awaiting task
            fut.set_exception(e)
        return fut


#: Offline-only shortcuts around the SDK's per-resource bookkeeping; each keeps the plan identical.
SHORTCUTS = {
    "lazy-outputs": "Output futures only for properties that have a value (generated classes register "
                    "every output property as None)",
    "skip-none-inputs": "drop None inputs before serialising (the SDK drops them after)",
    "no-input-echo": "do not echo every input back as an output (a typed walk per property); the program "
                     "reads only the outputs the mocks return",
    "inline-rpc": "call the in-process mock monitor inline instead of through a thread pool",
    "no-stack-trace": "no Python stack capture per resource (source positions are for the engine's UI)",
    "quiet-engine": "drop the SDK's debug log of every RPC (before it reaches the mock engine)",
    "no-mock-urn": "skip the URN the SDK computes per resource for running without a monitor (it has one; "
                   "aliases, the other caller, go to the mock monitor as alias specs, which need no URN)",
    "no-gc-during-run": "pause the cyclic garbage collector while the program runs (hundreds of "
                        "thousands of short-lived futures make each collection walk a growing heap)",
}
ALL_SHORTCUTS = frozenset(SHORTCUTS)


@contextlib.contextmanager
def _patched_sdk(shortcuts: frozenset[str]):
    from pulumi.runtime import resource as rres, rpc
    from pulumi.runtime.proto import source_pb2

    from pulumi import log as plog

    saved = (rpc.transfer_properties, rpc.serialize_properties, rpc.resolve_outputs, rres._get_stack_trace,
             rres.create_urn, plog.debug)
    orig_transfer, orig_serialize, orig_resolve, _, orig_urn, _ = saved

    def transfer(res, props, custom):
        keep = {k: v for k, v in props.items() if v is not None or k == "id" or k in _READ_OUTPUTS}
        return orig_transfer(res, keep, custom)

    def serialize(inputs, *args, **kw):
        if type(inputs) is dict:
            inputs = {k: v for k, v in inputs.items() if v is not None}
        return orig_serialize(inputs, *args, **kw)

    def resolve(res, serialized_props, outputs, *args, **kw):
        return orig_resolve(res, struct_pb2.Struct(), outputs, *args, **kw)

    if "lazy-outputs" in shortcuts:
        rpc.transfer_properties = transfer
    if "skip-none-inputs" in shortcuts:
        rpc.serialize_properties = serialize
    if "no-input-echo" in shortcuts:
        rpc.resolve_outputs = resolve
    if "no-stack-trace" in shortcuts:
        rres._get_stack_trace = lambda: source_pb2.StackTrace()
    if "quiet-engine" in shortcuts:
        plog.debug = lambda *a, **kw: None
    if "no-mock-urn" in shortcuts:
        from pulumi import Output

        def no_urn(name, type_, parent=None, project=None, stack=None):
            return Output.from_input("")

        rres.create_urn = no_urn
    try:
        yield
    finally:
        (rpc.transfer_properties, rpc.serialize_properties, rpc.resolve_outputs, rres._get_stack_trace,
         rres.create_urn, plog.debug) = saved


class _QuietEngine:
    """The mock engine minus debug chatter (the SDK logs every RPC at debug level)."""

    def __init__(self, engine):
        self._engine = engine

    def Log(self, request):
        from pulumi.runtime.proto import engine_pb2

        if request.severity != engine_pb2.DEBUG:
            self._engine.Log(request)


#: output properties the program reads (kept as futures even when the input was None)
_READ_OUTPUTS = {"vip_port_id"}


def run_offline(program: Callable[[], Any], *, stack: str, config: dict[str, str],
                secret_keys: list[str] = (), fast: bool | frozenset[str] = True) -> tuple[list[Recorded], Any]:
    """Run `program` under mocks in an isolated context; return (recorded resources, program result).

    `fast`: True = every shortcut in SHORTCUTS, False = the stock mock runtime, or a set of names.
    """
    shortcuts = ALL_SHORTCUTS if fast is True else frozenset() if fast is False else frozenset(fast)
    unknown = shortcuts - ALL_SHORTCUTS
    if unknown:
        raise ValueError(f"unknown shortcuts {sorted(unknown)}")
    # A thread of its own: Pulumi's settings live in context variables and asyncio's current loop is
    # per thread, so a plan neither sees nor leaves state behind for the caller (tests, other plans).
    box: dict = {}

    def target():
        try:
            box["value"] = contextvars.Context().run(_run, program, stack, config, list(secret_keys), shortcuts)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = e

    worker = threading.Thread(target=target, name=f"dcops-plan-{stack}", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _run(program, stack, config, secret_keys, shortcuts: frozenset[str]):
    from pulumi.runtime import config as pconfig, mocks, settings
    from pulumi.runtime.stack import run_pulumi_func

    loop = _InlineLoop() if "inline-rpc" in shortcuts else asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    monitor = _make_monitor()
    # Pulumi reads PULUMI_CONFIG before its own map; a stray environment must not leak into a plan.
    env_config = os.environ.pop("PULUMI_CONFIG", None)
    result: dict = {}
    try:
        pconfig.set_all_config(dict(config), list(secret_keys))
        settings.ROOT.set(None)
        mocks.set_mocks(monitor.mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
        if "quiet-engine" in shortcuts:
            settings.SETTINGS.engine = _QuietEngine(settings.SETTINGS.engine)

        def body():
            result["value"] = program()

        paused = "no-gc-during-run" in shortcuts and gc.isenabled()
        if paused:
            gc.disable()
        try:
            with _patched_sdk(shortcuts):
                loop.run_until_complete(run_pulumi_func(body))
        finally:
            if paused:
                gc.enable()
    finally:
        if env_config is not None:
            os.environ["PULUMI_CONFIG"] = env_config
        loop.close()
        asyncio.set_event_loop(None)
    return monitor.recorded, result.get("value")
