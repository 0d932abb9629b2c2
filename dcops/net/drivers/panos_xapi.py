"""PAN-OS through its XML API (pan-python's pan.xapi): backup, restore, candidate/commit, config lock.

Requests (PAN-OS 10.x XML API; the API key as ``key=``):

    type=export&category=configuration                    the running configuration (backup)
    type=import&category=configuration  (multipart file)  store a named configuration file on the device
    type=op  <load><config><from>NAME</from></config></load>   candidate := that file
    type=op  <show><config><running|candidate/></config></show>  what the device runs / would run
    type=op  <revert><config/></revert>                   drop candidate changes (candidate := running)
    type=commit  <commit/>  + <show><jobs><id>N</id></jobs></show>   running := candidate (job polled)
    type=op  <request><config-lock><add><comment>…</comment></add></config-lock></request>  (and <remove/>,
             <show><config-locks/></show>): the device's own lock, per administrator

PAN-OS keeps a candidate apart from the running config, so load validates (the import and the load
must succeed) and the diff is the device's own running vs candidate. The config lock stops every
other administrator from changing the candidate; its comment carries this push's token, owner and
time, so a second dcops (same API admin, other machine) is told "device busy: locked by …" as well.
There is no commit-confirm: the running config is imported back as ``dcops-before-<token>.xml``
(kept on the device) and the operator-side timer of api_base loads and commits it unless confirmed.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import ssl
import xml.etree.ElementTree as ET
from typing import Any

from .api_base import ApiDriver, unified
from .locking import DeviceBusy

LOCK_COMMENT = re.compile(r"dcops token=(\S+) owner=(\S+) pid=(\S+) since=(\S+)")


def _pretty(elem: ET.Element | None) -> str:
    if elem is None:
        return ""
    elem = _copy(elem)
    ET.indent(elem, space="  ")
    return ET.tostring(elem, encoding="unicode") + "\n"


def _copy(e: ET.Element) -> ET.Element:
    return ET.fromstring(ET.tostring(e))


class PanosXapiDriver(ApiDriver):
    vendor = "panos"

    def _connect(self) -> None:
        import pan.xapi
        ctx = ssl.create_default_context(cafile=self.ca_file) if self.https else None
        self.x = pan.xapi.PanXapi(api_key=self.secret, hostname=self.hostname, port=self.port,
                                  use_http=not self.https, timeout=self.command_timeout, ssl_context=ctx)
        self.get_facts()

    def _disconnect(self) -> None:
        self.x = None

    def _xcall(self, what: str, fn, *a, **kw) -> ET.Element | None:
        import pan.xapi
        try:
            fn(*a, **kw)
        except pan.xapi.PanXapiError as e:
            msg = str(e) or "no detail"
            if "403" in msg or "Invalid Credential" in msg:
                raise PermissionError(f"{self.hostname}: the API key was refused ({msg})") from e
            raise RuntimeError(f"{self.hostname}: {what}: {msg}") from e
        return self.x.element_result

    def _op(self, cmd: str) -> ET.Element | None:
        label = " ".join(re.findall(r"<([\w-]+)>", cmd)[:3]) or cmd
        return self._xcall(label, self.x.op, cmd=cmd)

    def get_facts(self) -> dict[str, Any]:
        res = self._op("<show><system><info></info></system></show>")
        info = res.find("system") if res is not None else None
        get = (lambda k: (info.findtext(k) or "") if info is not None else "")
        return {"hostname": get("hostname") or self.hostname, "vendor": "Palo Alto Networks", "model": get("model"),
                "os_version": get("sw-version"), "serial_number": get("serial"), "uptime": -1.0,
                "fqdn": self.hostname, "interface_list": []}

    def _running(self) -> str:
        self._xcall("export configuration", self.x.export, category="configuration")
        if getattr(self.x, "export_result", None):
            return self.x.export_result["content"].decode("utf-8")
        return self.x.xml_document if self.x.xml_document.endswith("\n") else self.x.xml_document + "\n"

    def _show(self, which: str) -> str:
        res = self._op(f"<show><config><{which}></{which}></config></show>")
        return _pretty(res.find("config") if res is not None else None)

    # -- lock: the device's config lock, our token in its comment
    def _locks(self) -> list[dict[str, str]]:
        res = self._op("<show><config-locks></config-locks></show>")
        out = []
        for e in (res.iter("entry") if res is not None else ()):
            m = LOCK_COMMENT.search(e.findtext("comment") or "")
            out.append({"admin": e.findtext("name") or "?", "created": e.findtext("created") or "?",
                        **({"token": m.group(1), "owner": m.group(2), "pid": m.group(3), "since": m.group(4)}
                           if m else {})})
        return out

    def _device_lock(self) -> None:
        mine = False
        for lk in self._locks():
            if lk.get("token") == self.token:
                mine = True
                continue
            raise DeviceBusy(self.hostname, {"owner": lk.get("owner") or f"PAN-OS administrator {lk['admin']}",
                                             "since": lk.get("since") or lk["created"], "pid": lk.get("pid", "?"),
                                             "token": lk.get("token", "(not dcops)")})
        if not mine:
            since = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            comment = f"dcops token={self.token} owner={self.owner} pid={os.getpid()} since={since}"
            self._op(f"<request><config-lock><add><comment>{comment}</comment></add></config-lock></request>")

    def _device_unlock(self, force: bool = False) -> None:
        if force or any(lk.get("token") == self.token for lk in self._locks()):
            self._op("<request><config-lock><remove></remove></config-lock></request>")

    # -- candidate, commit, restore
    def _import(self, name: str, text: str) -> None:
        self._xcall(f"import {name}", self.x.import_file, category="configuration", file=text.encode("utf-8"),
                    filename=name)

    def _load(self, name: str) -> None:
        self._op(f"<load><config><from>{name}</from></config></load>")

    def _stage(self, config: str) -> None:
        try:
            ET.fromstring(config.encode("utf-8"))
        except ET.ParseError as e:
            raise ValueError(f"the candidate is not well-formed XML ({e})") from e
        self._import(f"dcops-cand-{self.token}.xml", config)
        self._load(f"dcops-cand-{self.token}.xml")

    def _unstage(self) -> None:
        self._op("<revert><config></config></revert>")

    def _device_diff(self) -> str:
        return unified(self._show("running"), self._show("candidate"))

    def _snapshot(self, running: str) -> str:
        name = f"dcops-before-{self.token}.xml"
        self._import(name, running)
        return name

    def _commit(self) -> None:
        res = self._xcall("commit", self.x.commit, cmd="<commit></commit>")
        job = res.findtext("job") if res is not None else None
        if not job:   # "There are no changes to commit"
            return
        import time
        end = time.monotonic() + max(60.0, self.command_timeout)
        while True:
            r = self._op(f"<show><jobs><id>{job}</id></jobs></show>")
            j = r.find("job") if r is not None else None
            if j is not None and j.findtext("status") == "FIN":
                if j.findtext("result") != "OK":
                    details = " / ".join(x.text or "" for x in j.iter("line")) or "no details"
                    raise RuntimeError(f"commit job {job} failed: {details}")
                return
            if time.monotonic() > end:
                raise RuntimeError(f"commit job {job} did not finish in time")
            time.sleep(0.2)

    def _apply(self, config: str) -> None:
        self._commit()

    def _restore(self, ref: str) -> None:
        self._load(ref)
        self._commit()
