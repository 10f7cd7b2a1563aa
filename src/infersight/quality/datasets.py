"""Reference datasets for quality sweeps: JSON Lines files, validated with line-precise errors.

One JSON object per line (blank lines are skipped):

    {"id": "capital-fr-1", "question": "What is the capital of France?",
     "reference": "Paris", "paraphrase_group": "capital-fr", "tags": ["geography"]}

- `id` (string or integer, unique in the file)
- `question` (string) or `messages` (a chat: list of {"role", "content"}; the last one from
  the user): exactly one of the two
- `reference` (optional): one acceptable answer or a list of them
- `paraphrase_group` (optional): items that ask the same thing in other words share it; a group
  needs at least two items
- `context` (optional): the passage a grounded answer must come from
- `tags` (optional): list of strings, for filtering and per-tag results
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

FIELDS = ("id", "question", "messages", "reference", "paraphrase_group", "context", "tags")
ROLES = ("system", "user", "assistant")
MAX_REPORTED_PROBLEMS = 20
DEFAULT_DATASET_NAME = "default_dataset.jsonl"


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class DatasetItem:
    id: str
    messages: tuple[ChatMessage, ...]
    references: tuple[str, ...] = ()
    paraphrase_group: str | None = None
    context: str | None = None
    tags: tuple[str, ...] = ()
    line: int = 0

    @property
    def question(self) -> str:
        """The text of the last user message: what the answer is scored against."""
        return self.messages[-1].content

    def chat(self) -> list[dict[str, str]]:
        """The messages as an OpenAI chat request body wants them."""
        return [{"role": m.role, "content": m.content} for m in self.messages]


@dataclass(frozen=True)
class Dataset:
    name: str
    items: tuple[DatasetItem, ...]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[DatasetItem]:
        return iter(self.items)

    def by_id(self) -> dict[str, DatasetItem]:
        return {item.id: item for item in self.items}

    def groups(self) -> dict[str, list[DatasetItem]]:
        """Paraphrase groups in file order: {group: [items]}."""
        out: dict[str, list[DatasetItem]] = {}
        for item in self.items:
            if item.paraphrase_group is not None:
                out.setdefault(item.paraphrase_group, []).append(item)
        return out

    def with_tag(self, tag: str) -> Dataset:
        return Dataset(f"{self.name}[{tag}]", tuple(i for i in self.items if tag in i.tags))


class DatasetError(ValueError):
    """A dataset file that cannot be used; `problems` lists each one as 'file:line: message'."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        shown = self.problems[:MAX_REPORTED_PROBLEMS]
        more = len(self.problems) - len(shown)
        text = "\n".join(shown) + (f"\n... and {more} more problems" if more > 0 else "")
        super().__init__(text)


def _type_name(value: object) -> str:
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, list):
        return "a list"
    return "an object"


class _Line:
    """Validation of one line's object; problems are collected, not raised."""

    def __init__(self, where: str, obj: Mapping[str, object], problems: list[str]) -> None:
        self.where = where
        self.obj = obj
        self.problems = problems

    def fail(self, field: str, message: str) -> None:
        self.problems.append(f"{self.where}: field '{field}': {message}")

    def text(self, field: str, *, required: bool = False) -> str | None:
        if field not in self.obj:
            if required:
                self.fail(field, "missing (a non-empty string is required)")
            return None
        value = self.obj[field]
        if not isinstance(value, str):
            self.fail(field, f"expected a string, got {_type_name(value)}")
            return None
        if not value.strip():
            self.fail(field, "must not be empty")
            return None
        return value

    def strings(self, field: str, *, allow_single: bool) -> tuple[str, ...]:
        if field not in self.obj:
            return ()
        value = self.obj[field]
        expected = "a string or a list of strings" if allow_single else "a list of strings"
        if allow_single and isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            got = _type_name(value)
            if isinstance(value, list):
                bad = next(v for v in value if not isinstance(v, str))
                got = f"a list containing {_type_name(bad)}"
            self.fail(field, f"expected {expected}, got {got}")
            return ()
        if not value or any(not v.strip() for v in value):
            self.fail(field, f"expected {expected} without empty entries")
            return ()
        return tuple(value)

    def messages(self) -> tuple[ChatMessage, ...]:
        value = self.obj["messages"]
        if not isinstance(value, list) or not value:
            self.fail(
                "messages",
                f"expected a non-empty list of {{role, content}} objects, got {_type_name(value)}",
            )
            return ()
        out: list[ChatMessage] = []
        for i, m in enumerate(value):
            role = m.get("role") if isinstance(m, dict) else None
            content = m.get("content") if isinstance(m, dict) else None
            if role not in ROLES or not isinstance(content, str) or not content.strip():
                self.fail(
                    f"messages[{i}]",
                    'expected {"role": one of '
                    f'{", ".join(ROLES)}, "content": a non-empty string}}, got '
                    f"{json.dumps(m)[:80]}",
                )
                return ()
            out.append(ChatMessage(str(role), content))
        if out[-1].role != "user":
            self.fail(
                "messages",
                f"the last message must come from the user (it is the "
                f"question to answer), got role {out[-1].role!r}",
            )
            return ()
        return tuple(out)


def _parse_item(where: str, line_no: int, obj: object, problems: list[str]) -> DatasetItem | None:
    if not isinstance(obj, dict):
        problems.append(f"{where}: expected a JSON object per line, got {_type_name(obj)}")
        return None
    before = len(problems)
    v = _Line(where, obj, problems)
    unknown = sorted(set(obj) - set(FIELDS))
    for name in unknown:
        problems.append(f"{where}: unknown field {name!r} (known fields: {', '.join(FIELDS)})")
    raw_id = obj.get("id")
    if raw_id is None:
        v.fail("id", "missing (a string or integer unique in the file is required)")
    elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or raw_id == "":
        v.fail("id", f"expected a non-empty string or an integer, got {_type_name(raw_id)}")
    messages: tuple[ChatMessage, ...] = ()
    if ("question" in obj) == ("messages" in obj):
        problems.append(f"{where}: give exactly one of 'question' or 'messages'")
    elif "question" in obj:
        question = v.text("question")
        messages = (ChatMessage("user", question),) if question else ()
    else:
        messages = v.messages()
    references = v.strings("reference", allow_single=True)
    group = v.text("paraphrase_group")
    context = v.text("context")
    tags = v.strings("tags", allow_single=False)
    if len(problems) > before or not messages:
        return None
    return DatasetItem(str(raw_id), messages, references, group, context, tags, line_no)


def parse_dataset(text: str, source: str) -> Dataset:
    """Parse JSON Lines text; raises DatasetError listing every problem with its line."""
    problems: list[str] = []
    items: list[DatasetItem] = []
    first_line: dict[str, int] = {}
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{source}:{line_no}"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        item = _parse_item(where, line_no, obj, problems)
        if item is None:
            continue
        if item.id in first_line:
            problems.append(
                f"{where}: field 'id': duplicate id {item.id!r} (first used on line "
                f"{first_line[item.id]}); ids must be unique"
            )
            continue
        first_line[item.id] = line_no
        items.append(item)
    if not items and not problems:
        problems.append(
            f"{source}: no items (the file is empty); write one JSON object per line, e.g. "
            '{"id": "q1", "question": "What is the capital of France?", "reference": "Paris"}'
        )
    groups: dict[str, list[DatasetItem]] = {}
    for item in items:
        if item.paraphrase_group is not None:
            groups.setdefault(item.paraphrase_group, []).append(item)
    for group, members in groups.items():
        if len(members) < 2:
            problems.append(
                f"{source}:{members[0].line}: field 'paraphrase_group': group {group!r} has only "
                "this item; a group needs at least two paraphrases (check the name for typos)"
            )
    if problems:
        raise DatasetError(source, problems)
    return Dataset(Path(source).stem, tuple(items))


def load_dataset(path: str | Path) -> Dataset:
    """Read and validate a JSONL dataset file; raises DatasetError (also for unreadable files)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(str(p), [f"{p}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(str(p), [f"{p}: cannot read the file ({exc})"]) from None
    return parse_dataset(text, str(p))


def default_dataset() -> Dataset:
    """The packaged dataset: short factual questions in paraphrase groups, plus grounded items."""
    resource = resources.files("infersight.quality").joinpath("data", DEFAULT_DATASET_NAME)
    dataset = parse_dataset(resource.read_text(encoding="utf-8"), DEFAULT_DATASET_NAME)
    return Dataset("default", dataset.items)
