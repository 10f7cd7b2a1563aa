"""Dataset loading: line-precise validation errors, duplicate ids, empty files, the default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infersight.quality.datasets import DatasetError, default_dataset, load_dataset


def write(tmp_path: Path, *lines: object, name: str = "dataset.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
        encoding="utf-8",
    )
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    return info.value.problems


def test_loads_questions_messages_references_groups(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "id": "a",
            "question": "Capital of France?",
            "reference": "Paris",
            "paraphrase_group": "g",
            "tags": ["geo"],
        },
        "",
        {
            "id": 2,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "France's capital?"},
            ],
            "reference": ["Paris", "paris, france"],
            "paraphrase_group": "g",
        },
        {"id": "c", "question": "Opening hour?", "context": "We open at 9.", "reference": "9"},
    )
    ds = load_dataset(path)
    assert [i.id for i in ds] == ["a", "2", "c"]
    assert ds.items[1].question == "France's capital?"
    assert ds.items[1].references == ("Paris", "paris, france")
    assert ds.items[1].chat()[0] == {"role": "system", "content": "Be brief."}
    assert ds.items[1].line == 3
    assert [i.id for i in ds.groups()["g"]] == ["a", "2"]
    assert ds.items[2].context == "We open at 9."
    assert len(ds.with_tag("geo")) == 1


def test_field_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"id": "ok", "question": "Q?", "reference": "A"},
        {"id": "x", "question": "Q?", "reference": 3},
        {"id": "y", "question": "Q?", "reference": ["A", 4]},
        {"question": "no id"},
        {"id": "z", "question": 5},
        {"id": "w", "question": "Q?", "messages": [{"role": "user", "content": "Q?"}]},
        {
            "id": "v",
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
        },
        {"id": "u", "question": "Q?", "refrence": "typo"},
        "{not json",
        "[1, 2]",
    )
    got = problems(path)
    src = str(path)
    assert f"{src}:2: field 'reference': expected a string or a list of strings, got 3" in got
    assert any(p.startswith(f"{src}:3: field 'reference'") and "containing 4" in p for p in got)
    assert any(p.startswith(f"{src}:4: field 'id': missing") for p in got)
    assert any(p.startswith(f"{src}:5: field 'question': expected a string, got 5") for p in got)
    assert f"{src}:6: give exactly one of 'question' or 'messages'" in got
    assert any(p.startswith(f"{src}:7: field 'messages': the last message") for p in got)
    assert any(p.startswith(f"{src}:8: unknown field 'refrence'") for p in got)
    assert any(p.startswith(f"{src}:9: not valid JSON") for p in got)
    assert any(p.startswith(f"{src}:10: expected a JSON object") for p in got)
    assert len(got) == 9


def test_duplicate_ids_and_lonely_paraphrase_groups(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"id": "q1", "question": "A?", "paraphrase_group": "pair"},
        {"id": "q2", "question": "B?", "paraphrase_group": "pair"},
        {"id": "q1", "question": "C?"},
        {"id": "q3", "question": "D?", "paraphrase_group": "typo-group"},
    )
    got = problems(path)
    assert got[0] == (
        f"{path}:3: field 'id': duplicate id 'q1' (first used on line 1); ids must be unique"
    )
    assert got[1].startswith(f"{path}:4: field 'paraphrase_group': group 'typo-group' has only")
    assert len(got) == 2


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = write(tmp_path, "", "   ")
    got = problems(empty)
    assert len(got) == 1 and got[0].startswith(f"{empty}: no items (the file is empty)")
    missing = problems(tmp_path / "nope.jsonl")
    assert missing == [f"{tmp_path / 'nope.jsonl'}: no such file"]


def test_error_message_lists_problems_and_caps_them(tmp_path: Path) -> None:
    path = write(tmp_path, *[{"id": str(i), "question": 1} for i in range(25)])
    with pytest.raises(DatasetError) as info:
        load_dataset(path)
    message = str(info.value)
    assert message.splitlines()[0] == f"{path}:1: field 'question': expected a string, got 1"
    assert message.endswith("... and 5 more problems")


def test_default_dataset_is_valid_grouped_and_grounded() -> None:
    ds = default_dataset()
    assert ds.name == "default"
    assert 90 <= len(ds) <= 110
    assert all(item.references for item in ds)
    groups = ds.groups()
    assert len(groups) >= 20
    assert all(3 <= len(members) <= 4 for members in groups.values())
    grounded = [item for item in ds if item.context]
    assert len(grounded) >= 15
    assert all(item.paraphrase_group is None for item in grounded)
