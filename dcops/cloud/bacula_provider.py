"""A Pulumi dynamic provider for the Bacula director's resources: one resource = one configuration
fragment in the director's conf.d (which bacula-dir.conf @-includes).

create/update/delete write (or remove) the fragment, have Bacula test the whole configuration
(`bacula-dir -t -c`), then reload the running director through bconsole and ask it (`show`) whether it now
runs what was declared. Any refusal puts the previous fragment back (and the director keeps running its
previous configuration: a failed test is never reloaded) and raises with the director's own words.
One lock per conf.d: Pulumi runs resource operations in parallel, the director has one configuration.

The provider runs where `pulumi up` runs and reaches the director's files and bconsole there (the
backup server, docs/backup.md). It knows Bacula's syntax only through dcops.model.bacula, the same
renderer the lab's and production's rendered configurations use.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pickle
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider,
                            UpdateResult)

from ..model.bacula import KINDS, NAME, Fragment, canonical, render_fragment

#: Pulumi type tokens are pulumi-python:dynamic/bacula:<Kind>
MODULE = "bacula"
#: what Bacula wants in each kind (src/dird/dird_conf.c ITEM_REQUIRED), checked before a file is written
REQUIRED = {"Storage": ("Address", "Password", "Device", "Media Type"), "Pool": ("Pool Type",),
            "Client": ("Address", "Password"), "FileSet": ("Include",), "Schedule": ("Run",),
            "JobDefs": (), "Job": ()}
#: changing these makes another resource (another file, another name the director knows)
REPLACE_ON = ("kind", "name")
#: the kinds bconsole's `show <kind>=<name>` answers for (9.6 has no `show jobdefs`)
SHOWN = ("Storage", "Pool", "Schedule", "Client", "FileSet", "Job")
DIRECTIVE = re.compile(r"^[A-Za-z][A-Za-z ]*$")
#: lines of the director's output that carry its reason
_WORDS = re.compile(r"(error|Error|ERROR|Could not|not found|Please correct|Config error|: line \d+)")


#: set to 1 for the `pulumi up` that adopts a running director's own conf.d files (identical ones only)
ADOPT_ENV = "DCOPS_BACULA_ADOPT"


class BaculaRefused(RuntimeError):
    """The director (or its configuration test) refused the change; the message is Bacula's."""


@dataclass(frozen=True)
class DirectorAccess:
    """Where the director's configuration lives on the host `pulumi up` runs on."""
    conf_d: str
    dir_conf: str
    bconsole_conf: str
    bacula_dir: str = "bacula-dir"
    bconsole: str = "bconsole"
    timeout: float = 60.0


def _words(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    picked = [ln for ln in lines if _WORDS.search(ln)]
    return "; ".join(dict.fromkeys(picked or lines[-5:]))[:1500]


def check_props(props: dict) -> list[tuple[str, str]]:
    """(property, reason) for every problem of a declaration, before anything touches the director."""
    out = []
    kind, name, directives = props.get("kind"), props.get("name"), props.get("directives")
    if kind not in KINDS:
        out.append(("kind", f"{kind!r} is not a director resource the provider writes ({', '.join(KINDS)})"))
    if not isinstance(name, str) or not NAME.match(name):
        out.append(("name", f"{name!r} is not a Bacula resource name (letters, digits, ':', '.', '_', '-'; "
                            "at most 127)"))
    if not isinstance(directives, dict) or not directives:
        out.append(("directives", "a resource needs its directives (a non-empty mapping)"))
        return out

    def walk(d: dict, path: str):
        for key, v in d.items():
            where = f"{path}.{key}"
            if not isinstance(key, str) or not DIRECTIVE.match(key) or key.lower() == "name":
                out.append((where, f"{key!r} is not a directive (letters and spaces; Name is the resource's "
                                   "own name)"))
            elif isinstance(v, dict):
                walk(v, where)
            elif isinstance(v, (list, tuple)):
                if not v or any(not isinstance(x, (str, int)) or "\n" in str(x) for x in v):
                    out.append((where, "a repeated directive is a non-empty list of one-line values"))
            elif v is not None and (not isinstance(v, (str, int, bool)) or "\n" in str(v)):
                out.append((where, f"a value is one line of text or a number, not {v!r}"))

    walk(directives, "directives")
    if kind in REQUIRED:
        missing = [k for k in REQUIRED[kind] if directives.get(k) in (None, "", [])]
        if missing:
            out.append(("directives", f"a {kind} needs {', '.join(missing)}"))
    if kind == "Job" and not (directives.get("JobDefs") or directives.get("Type")):
        out.append(("directives", "a Job needs a Type or the JobDefs it takes its Type from"))
    return out


def changed(olds: dict, news: dict) -> list[str]:
    """The properties that differ: kind, name, comment, and each directive as directives.<Directive>."""
    out = [k for k in ("kind", "name", "comment") if olds.get(k) != news.get(k)]
    a, b = olds.get("directives") or {}, news.get("directives") or {}
    out += [f"directives.{k}" for k in sorted(set(a) | set(b), key=str) if a.get(k) != b.get(k)]
    return out


class BaculaProvider(ResourceProvider):
    """CRUD for one director's resources (see the module's docstring)."""

    def __init__(self, access: DirectorAccess):
        super().__init__()
        self.access = access

    # -- Pulumi's interface
    def check(self, _olds: dict, news: dict) -> CheckResult:
        return CheckResult(news, [CheckFailure(p, r) for p, r in check_props(news)])

    def diff(self, _id: str, olds: dict, news: dict) -> DiffResult:
        diffs = changed(olds, news)
        if olds.get("sha256") and not diffs and olds["sha256"] != _digest(news):
            diffs = ["(file)"]  # refreshed from a file edited on the director: rewrite what is declared
        replaces = [p for p in diffs if p in REPLACE_ON]
        return DiffResult(changes=bool(diffs), replaces=replaces, stables=[], delete_before_replace=False)

    def create(self, props: dict) -> CreateResult:
        """Write the fragment. A file already there is another stack's or a hand-made one: refused — unless the
        operator adopts a running director once (`DCOPS_BACULA_ADOPT=1 pulumi up`: a dynamic provider's resources
        cannot be `pulumi import`ed, pulumi/pulumi#16175), when a file with exactly the declared directives (in
        any order) is taken as it is (tested, reloaded, shown: nothing the director runs changes) and any other is refused."""
        f = _fragment(props)
        path = self._path(f)
        text = render_fragment(f.kind, f.name, f.directives, f.comment)
        with self._locked():
            if not path.exists():
                self._apply(f, path, old_text=None, new_text=text)
                return CreateResult(f"{f.kind}/{f.name}", _outs(props))
            if os.environ.get(ADOPT_ENV) != "1":
                raise BaculaRefused(f"{path} exists: the director already has {f.kind} {f.name} (another stack's or "
                                    f"a hand-made file: remove it, or adopt a running director's files once with "
                                    f"{ADOPT_ENV}=1 — `pulumi import` cannot take a dynamic provider's resource)")
            running = path.read_text(encoding="utf-8")
            if canonical(running) != canonical(text):  # the engine may hand the directives in any order
                raise BaculaRefused(f"{path} exists and is not the declared {f.kind} {f.name}: make it what `dcops "
                                    "cloud bacula-files` writes (or remove it) and run again; only a file with the "
                                    "declared directives is adopted")
            # the file is left alone (its owner and mode are the director's): the director is asked to run it
            self._test()
            self._reload()
            self._verify(f, present=True)
        return CreateResult(f"{f.kind}/{f.name}", _outs(props))

    def update(self, _id: str, olds: dict, news: dict) -> UpdateResult:
        f = _fragment(news)
        path = self._path(f)
        with self._locked():
            old_text = path.read_text(encoding="utf-8") if path.exists() else None
            self._apply(f, path, old_text=old_text,
                        new_text=render_fragment(f.kind, f.name, f.directives, f.comment))
        return UpdateResult(_outs(news))

    def read(self, id_: str, props: dict) -> ReadResult:
        """`pulumi refresh`: a fragment removed from the director is gone (the next `up` creates it again); one
        edited by hand keeps its declared properties but the file's digest, which `diff` sees."""
        f = _fragment(props)
        path = self._path(f)
        if not path.exists():
            return ReadResult("", {})
        return ReadResult(id_, {**_outs(props), "sha256": _content_digest(path.read_text(encoding="utf-8"))})

    def delete(self, _id: str, props: dict) -> None:
        f = _fragment(props)
        path = self._path(f)
        with self._locked():
            if not path.exists():
                return  # already gone: nothing the director runs depends on it
            self._apply(f, path, old_text=path.read_text(encoding="utf-8"), new_text=None)

    # -- the director
    def _path(self, f: Fragment) -> Path:
        return Path(self.access.conf_d) / f.file

    @contextlib.contextmanager
    def _locked(self):
        conf_d = Path(self.access.conf_d)
        if not conf_d.is_dir():
            raise BaculaRefused(f"{conf_d} is not a folder: the director's conf.d (see docs/backup.md)")
        with open(conf_d / ".dcops.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _apply(self, f: Fragment, path: Path, *, old_text: str | None, new_text: str | None) -> None:
        """Write (or remove) the fragment, test, reload, verify; on any refusal put the old one back."""
        _put(path, new_text)
        try:
            self._test()
            self._reload()
            self._verify(f, present=new_text is not None)
        except BaseException:
            _put(path, old_text)
            with contextlib.suppress(BaculaRefused, OSError, subprocess.SubprocessError):
                self._test()
                self._reload()  # a director that took the bad one runs the previous one again
            raise

    def _test(self) -> None:
        a = self.access
        proc = subprocess.run([a.bacula_dir, "-t", "-c", a.dir_conf], capture_output=True, text=True,
                              timeout=a.timeout)
        if proc.returncode != 0:
            raise BaculaRefused(f"bacula-dir -t refused the configuration: {_words(proc.stdout + proc.stderr)}")

    def _console(self, commands: str) -> str:
        a = self.access
        proc = subprocess.run([a.bconsole, "-n", "-c", a.bconsole_conf], input=commands + "\nquit\n",
                              capture_output=True, text=True, timeout=a.timeout)
        if proc.returncode != 0 or "1000 OK" not in proc.stdout:
            raise BaculaRefused(f"bconsole could not reach the director: {_words(proc.stdout + proc.stderr)}")
        return proc.stdout

    def _reload(self) -> None:
        # the director answers `reload` silently and reports a refused configuration as a message
        out = self._console("reload\nmessages")
        tail = out.split("reload", 1)[-1]
        if re.search(r"Config error|Please correct|ERROR", tail):
            raise BaculaRefused(f"the director refused to reload: {_words(tail)}")

    def _verify(self, f: Fragment, *, present: bool) -> None:
        if f.kind not in SHOWN:
            return  # the reload's own report is all the director says about it
        asked = f"show {f.kind.lower()}={f.name}"
        out = self._console(asked).split(asked, 1)[-1]
        missing = "not found" in out
        if present and missing:
            raise BaculaRefused(f"after reload the director does not show {f.kind} {f.name}: {_words(out)}")
        if not present and not missing:
            raise BaculaRefused(f"after reload the director still shows {f.kind} {f.name}")


def _fragment(props: dict) -> Fragment:
    problems = check_props(props)
    if problems:
        raise BaculaRefused("; ".join(f"{p}: {r}" for p, r in problems))
    return Fragment(props["kind"], props["name"], dict(props["directives"]), comment=props.get("comment") or "")


def _digest(props: dict) -> str:
    text = render_fragment(props["kind"], props["name"], props.get("directives") or {}, props.get("comment") or "")
    return _content_digest(text)


def _content_digest(text: str) -> str:
    """What a fragment says, not how its lines are ordered (model.bacula.canonical): the engine hands the
    directives in its own order, so the file written and the declaration compared later may differ in order
    only — that is no change (a hand edit of a value, or an added or removed directive, is one)."""
    return hashlib.sha256(repr(canonical(text)).encode("utf-8")).hexdigest()


def _outs(props: dict) -> dict:
    """What the state keeps: the declaration and the digest of the file written for it."""
    return {**{k: props.get(k) for k in ("kind", "name", "directives", "comment")}, "sha256": _digest(props)}


def _put(path: Path, text: str | None) -> None:
    """Write atomically (mode 0600: passwords) or remove."""
    if text is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class BaculaResource(pulumi.dynamic.Resource, module=MODULE, name="Resource"):
    """Base of the typed resources below; `directives` in Bacula's own words (dcops.model.bacula)."""

    def __init__(self, name: str, *, access: DirectorAccess, directives: dict, comment: str = "",
                 opts: pulumi.ResourceOptions | None = None):
        secret = ("Password" in directives)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            additional_secret_outputs=["directives", "sha256"] if secret else None))
        with _pickler_restored():
            super().__init__(BaculaProvider(access), name, {"kind": self.KIND, "name": name,
                                                            "directives": directives, "comment": comment}, opts)


@contextlib.contextmanager
def _pickler_restored():
    """pulumi.dynamic.serialize_provider (3.272) wraps pickle._Pickler._batch_setitems in a sorting wrapper on
    every call and never unwraps it: a program of a few hundred dynamic resources (or a few plans in one
    process) hits RecursionError. The provider is serialised synchronously in the constructor, so the
    pickler is put back as it was around it."""
    saved = pickle._Pickler._batch_setitems, pickle._Pickler.save_dict
    try:
        yield
    finally:
        pickle._Pickler._batch_setitems, pickle._Pickler.save_dict = saved


def _typed(kind: str) -> type:
    return type(kind, (BaculaResource,), {"KIND": kind, "__doc__": f"A director {kind} resource."},
                module=MODULE, name=kind)


#: one Pulumi resource type per director resource kind (type token pulumi-python:dynamic/bacula:<Kind>)
TYPES: dict[str, type] = {k: _typed(k) for k in KINDS}


def token(kind: str) -> str:
    return f"pulumi-python:dynamic/{MODULE}:{kind}"
