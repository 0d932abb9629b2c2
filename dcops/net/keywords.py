"""The configuration keywords a rendered device config uses, per block, and the reviewed table of them.

Issue 15 §9: docs/network.md holds, for every platform, a table of each configuration block the
templates render, the vendor reference it follows and the keywords used in it. The test
(tests/net/test_vendor_keywords.py) renders every device and fails on any block or keyword the
table does not list — a new keyword needs a table row (and so a reference) in review.

Blocks and keywords per syntax:
  FortiOS-style CLI  `config a b` (nested: `a b / c`) → the `set`/`unset` option names under it
  PAN-OS XML         the path of element names down to three levels below <config> (`entry`
                     skipped) → every element name below that path
  Linux              one block per file kind: nftables statements, `ip -batch` commands, and the
                     directives of each section of system.conf (snmpd, chrony, rsyslog, sshd, issue)

`python -m dcops.net.keywords` prints the rows of the current rendering (for review, not for
copying blindly: each row needs its reference).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from dcops.model import Inventory

DOC = "network.md"
TABLE_HEADING = "## Vendor references and keyword tables"


def forti_cli(text: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    stack: list[str] = []
    in_string = False
    for raw in text.splitlines():
        line = raw.strip()
        if in_string:                 # a multi-line quoted value (banner buffer)
            in_string = line.count('"') % 2 == 0
            continue
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "config":
            path = " ".join(t for t in rest.split() if not t.startswith('"'))
            stack.append(path)
            out[" / ".join(stack)]
        elif word == "end":
            if stack:
                stack.pop()
        elif word in ("set", "unset") and stack:
            out[" / ".join(stack)].add(rest.split()[0])
            in_string = rest.count('"') % 2 == 1
    return dict(out)


def panos_xml(text: str) -> dict[str, set[str]]:
    root = ET.fromstring(text)
    out: dict[str, set[str]] = defaultdict(set)

    def walk(e: ET.Element, path: list[str]) -> None:
        for c in e:
            if c.tag == "entry":
                walk(c, path)
                continue
            if len(path) < 3:
                p = [*path, c.tag]
                out["/".join(p)]
                walk(c, p)
            else:
                block = "/".join(path)
                out[block].add(c.tag)
                walk(c, path)
    walk(root, [])
    return {k: v for k, v in out.items() if v or k.count("/") == 2}


_NFT_WORD = re.compile(r"(?<![\w.$@-])([a-z][a-z_-]*)(?![\w.:/-])")


def linux(files: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for name, text in files.items():
        if name.endswith(".nft"):
            body = re.sub(r'"[^"]*"', "", "\n".join(ln.split("#", 1)[0] for ln in text.splitlines()))
            named = set(re.findall(r"\b(?:table \w+|chain|set|map|jump|goto) ([\w-]+)", body))  # our own names
            out["nftables ruleset"].update(w for w in _NFT_WORD.findall(body) if w not in named)
        elif name.endswith(".ip.batch"):
            for line in text.splitlines():
                if line.strip() and not line.startswith("#"):
                    out["ip -batch"].add(" ".join(line.split()[:2]))
        elif name.endswith(".system.conf"):
            section = None
            for line in text.splitlines():
                if line.startswith("### "):
                    section = line[4:].strip()
                    out[section]
                elif section and line.strip() and not line.startswith("#") and not section.endswith("issue.net"):
                    out[section].add(line.split()[0])
    return dict(out)


#: platform.yaml `keywords:` → the extractor for that configuration syntax
EXTRACTORS = {
    "forti-cli": lambda files, config: forti_cli(config),
    "panos-xml": lambda files, config: panos_xml(config),
    "linux": lambda files, config: linux({k: v for k, v in files.items()
                                          if k.endswith((".nft", ".ip.batch", ".system.conf"))}),
}


def of_rendered(platform: str, files: dict[str, str], config: str) -> dict[str, set[str]]:
    """The blocks and keywords of one rendering, by the syntax its platform.yaml names in `keywords:`."""
    from . import platforms
    syntax = platforms.load(platform).keywords
    if syntax not in EXTRACTORS:
        raise KeyError(f"no keyword extractor for platform {platform} (platform.yaml keywords: "
                       f"{syntax!r}; known: {', '.join(sorted(EXTRACTORS))})")
    return EXTRACTORS[syntax](files, config)


def fleet(inv: Inventory) -> dict[str, dict[str, set[str]]]:
    """platform → block → keywords, over every rendered device (and the lab stand-in)."""
    from . import fleet as fleet_mod, render
    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    ctx = render.RenderContext.build(inv)
    devs = [(d, ctx) for d in render.configured_devices(inv)]
    fw, topo = fleet_mod.stand_in(inv)
    devs.append((fw, render.RenderContext.build(inv, topology=topo)))
    for d, c in devs:
        r = render.render_device(c, d)
        for block, kws in of_rendered(r.platform, r.files, r.config).items():
            out[r.platform][block] |= kws
    return {p: dict(b) for p, b in out.items()}


def parse_tables(markdown: str) -> dict[str, dict[str, tuple[set[str], str]]]:
    """platform → block → (keywords, reference) from the docs section's tables."""
    section = markdown.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    out: dict[str, dict[str, tuple[set[str], str]]] = {}
    platform = None
    for line in section.splitlines():
        m = re.match(r"^### `(\w+)`", line)
        if m:
            platform = m.group(1)
            out[platform] = {}
            continue
        if platform and line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            block = cells[0].strip("`")
            kws = set(re.findall(r"`([^`]+)`", cells[1]))
            out[platform][block] = (kws, cells[2])
    return out


def verdict(reference: str) -> str:
    """A row's state from its reference cell: `open` (✗: a source contradicts it or leaves part of it
    open — wins over a partial ✓), `verified` (✓) or `unchecked`."""
    return "open" if "✗" in reference else "verified" if "✓" in reference else "unchecked"


def counts(tables: dict[str, dict[str, tuple[set[str], str]]]) -> dict[str, int]:
    """Rows per verdict over every platform's table, and all rows (docs figures `net.keywords.*`)."""
    out = {"rows": 0, "verified": 0, "open": 0, "unchecked": 0}
    for rows in tables.values():
        for _, ref in rows.values():
            out["rows"] += 1
            out[verdict(ref)] += 1
    return out


def main() -> None:
    from dcops.model import load_inventory
    for platform, blocks in sorted(fleet(load_inventory()).items()):
        print(f"\n### `{platform}`\n\n| block | keywords | reference |\n|---|---|---|")
        for block, kws in sorted(blocks.items()):
            print(f"| `{block}` | {' '.join(f'`{k}`' for k in sorted(kws))} | |")


if __name__ == "__main__":
    main()
