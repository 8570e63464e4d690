"""The traceability table in docs/verification.md: one row per THEOREMS.md §8 catalogue ID, and every test
it names exists, so a renamed or deleted test cannot leave the table pointing at nothing."""
import re

from docs_blocks import DOCS

ROOT = DOCS.parent
# THEOREMS.md §8, in order (that file is not in the repository)
IDS = (["GB-1", "GB-2"] + [f"RF-{i}" for i in range(1, 12)] + ["EV-1", "EV-2"] + [f"PT-{i}" for i in range(1, 6)]
       + [f"UP-{i}" for i in range(1, 5)] + ["TR-1", "TR-2", "WE-1", "FE-1", "FE-2", "HB-1", "RP-1", "LA-1"])
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[[^\]`]*\])?`")


def _rows():
    text = (DOCS / "verification.md").read_text()
    section = text.split("## Where each catalogue entry is tested", 1)[1].split("\n## ", 1)[0]
    rows = [re.split(r"(?<!\\)\|", line.strip())[1:-1] for line in section.splitlines() if line.startswith("| ")]
    assert rows and [c.strip() for c in rows[0][:2]] == ["ID", "claim"], "table header not found"
    return [[c.strip() for c in r] for r in rows[1:]]


def test_every_catalogue_id_appears_once_in_order():
    ids = [r[0] for r in _rows()]
    assert ids == IDS, (sorted(set(IDS) - set(ids)), [i for i in ids if ids.count(i) > 1 or i not in IDS])


def test_every_named_test_exists():
    missing, named = [], 0
    for row in _rows():
        refs = TEST_REF.findall(row[2])
        assert refs or row[2].lower().startswith("none"), f"{row[0]}: no tests/x.py::name and not 'none'"
        for path, name in refs:
            named += 1
            f = ROOT / path
            if not f.is_file() or not re.search(rf"^\s*(async\s+)?def {name}\(", f.read_text(), re.M):
                missing.append(f"{row[0]}: {path}::{name}")
    assert not missing, missing
    assert named >= len(IDS)
