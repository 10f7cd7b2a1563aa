"""Settings: loading YAML + env overrides + CLI flags, and precise, actionable errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from infersight.config_template import HEADER_ENV_EXAMPLES, render_template
from infersight.settings import (
    NO_VALUE,
    ConfigError,
    ConfigProblem,
    Settings,
    apply_cli_overrides,
    apply_overrides,
    dump_settings,
    find_config_file,
    is_list,
    is_model,
    item_type,
    load_settings,
    settings_from_mapping,
    unwrap_annotation,
)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # ./infersight.yaml discovery must not see the repo


def write(tmp_path: Path, text: str, name: str = "infersight.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def problems_of(path: str | None, env: dict[str, str] | None = None) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={} if env is None else env)
    return list(info.value.problems)


def raises(fn: Callable[..., object], *args: object, **kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        fn(*args, **kwargs)
    return info.value


def only(problems: list[ConfigProblem]) -> ConfigProblem:
    assert len(problems) == 1, problems
    return problems[0]


# --- defaults and valid files ----------------------------------------------------------------


def test_no_file_gives_pure_defaults() -> None:
    assert load_settings(env={}) == Settings()
    assert find_config_file(env={}) is None


def test_valid_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
gateway:
  port: 9001
  capture_text: true
upstreams:
  - name: a
    url: http://gpu-1:8000/
    models: [llama]
  - url: https://gpu-2:8443
store:
  writer:
    batch_size: 64
log_level: WARNING
""",
        "custom.yaml",
    )
    s = load_settings(path, env={})
    assert s.gateway.port == 9001
    assert s.gateway.capture_text is True
    assert s.gateway.host == "127.0.0.1"  # untouched keys keep defaults
    assert [u.url for u in s.upstreams] == ["http://gpu-1:8000", "https://gpu-2:8443"]
    assert s.upstreams[0].models == ["llama"]
    assert s.upstreams[1].name == "default"
    assert s.store.writer.batch_size == 64
    assert s.store.writer.queue_size == 100_000
    assert s.log_level == "warning"


def test_discovers_infersight_yaml_in_cwd(tmp_path: Path) -> None:
    write(tmp_path, "gateway:\n  port: 1234\n")
    assert load_settings(env={}).gateway.port == 1234


def test_config_path_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  port: 4321\n", "elsewhere.yaml")
    assert load_settings(env={"INFERSIGHT_CONFIG": path}).gateway.port == 4321


def test_empty_file_and_empty_sections_keep_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "", "empty.yaml"), env={}) == Settings()
    commented = "gateway:\n  # port: 1\nstore:\n  writer:\nupstreams:\n"
    assert load_settings(write(tmp_path, commented, "c.yaml"), env={}) == Settings()


# --- the starter template ----------------------------------------------------------------------


def test_template_loads_back_to_exactly_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, render_template(), "template.yaml")
    assert load_settings(path, env={}) == Settings()


def leaf_paths(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict) and value:
        return {p for k, v in value.items() for p in leaf_paths(v, f"{prefix}.{k}".lstrip("."))}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return {p for i, v in enumerate(value) for p in leaf_paths(v, f"{prefix}[{i}]")}
    return {prefix}


def test_template_has_every_key() -> None:
    raw = yaml.safe_load(render_template())
    assert leaf_paths(raw) == leaf_paths(Settings().model_dump(mode="json"))


def all_models(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    yield model
    for field in model.model_fields.values():
        ann = unwrap_annotation(field.annotation)
        ann = unwrap_annotation(item_type(ann)) if is_list(ann) else ann
        if is_model(ann):
            yield from all_models(ann)


def test_every_field_has_a_description_for_the_template_comment() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in all_models(Settings)
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    ]
    assert not missing, f"add Field(description=...) to: {missing}"


def test_template_comments_every_key() -> None:
    lines = render_template().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip().removeprefix("- ")
        if stripped and not stripped.startswith("#") and ":" in stripped:
            assert lines[i - 1].strip().startswith("#"), f"no comment above: {line!r}"


@pytest.mark.parametrize(("var", "value"), sorted(HEADER_ENV_EXAMPLES.items()))
def test_template_header_env_examples_are_real_settings(var: str, value: str) -> None:
    assert var in render_template()
    load_settings(env={var: value})


# --- errors: what, where, how to fix --------------------------------------------------------


def test_out_of_range_renders_file_line_path_value_and_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  port: 70000\n")
    p = only(problems_of(path))
    assert (p.path, p.value, p.line) == ("gateway.port", 70000, 2)
    assert p.render() == (
        f"{path}:2: gateway.port: must be <= 65535, got 70000 (set a value between 0 and 65535)"
    )


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("gateway:\n  read_timeout_s: .inf\n", "gateway.read_timeout_s"),
        (
            "alerting:\n  rules:\n    - name: r\n      kind: threshold\n"
            "      metric: ttft_seconds\n      threshold: .nan\n",
            "alerting.rules[0].threshold",
        ),
    ],
)
def test_nan_and_infinity_are_refused(tmp_path: Path, text: str, path: str) -> None:
    """YAML's .nan / .inf would make a rule that can never fire (or be sent as JSON)."""
    p = only(problems_of(write(tmp_path, text)))
    assert p.path == path and p.message == "must be a finite number"


def test_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  writer:\n    batch_size: lots\n")
    p = only(problems_of(path))
    assert p.path == "store.writer.batch_size"
    assert p.message == "must be a whole number"
    assert p.value == "lots"
    assert "500" in p.hint  # the default, as an example


def test_not_positive(tmp_path: Path) -> None:
    p = only(problems_of(write(tmp_path, "gateway:\n  read_timeout_s: 0\n")))
    assert (p.path, p.message, p.hint) == (
        "gateway.read_timeout_s",
        "must be > 0",
        "set a value greater than 0",
    )


@pytest.mark.parametrize(
    ("text", "path", "suggestion"),
    [
        ("gatway:\n  port: 1\n", "gatway", "gateway"),
        ("gateway:\n  prot: 1\n", "gateway.prot", "port"),
        ("store:\n  writer:\n    batch_sise: 1\n", "store.writer.batch_sise", "batch_size"),
    ],
)
def test_unknown_key_suggests_the_closest(
    tmp_path: Path, text: str, path: str, suggestion: str
) -> None:
    p = only(problems_of(write(tmp_path, text)))
    key = path.rsplit(".", 1)[-1]
    assert p.path == path
    assert p.message == f"unknown key {key!r} (did you mean {suggestion!r}?)"
    assert p.value is NO_VALUE
    assert suggestion in p.hint


def test_unknown_key_with_no_close_match_lists_the_valid_ones(tmp_path: Path) -> None:
    p = only(problems_of(write(tmp_path, "zzz: 1\n")))
    assert p.message == "unknown key 'zzz'"
    assert "gateway, upstreams, store" in p.hint


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://x:21", "http://", "http://host:notaport"])
def test_bad_url_points_at_the_list_entry(tmp_path: Path, url: str) -> None:
    text = f"upstreams:\n  - url: http://ok:8000\n  - url: '{url}'\n"
    p = only(problems_of(write(tmp_path, text)))
    assert (p.path, p.value, p.line) == ("upstreams[1].url", url, 3)
    assert "http://" in p.hint


def test_url_is_normalised(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "upstreams:\n  - url: ' http://x:1/ '\n"), env={})
    assert s.upstreams[0].url == "http://x:1"


def test_literal_choice_suggestion(tmp_path: Path) -> None:
    p = only(problems_of(write(tmp_path, "log_level: verbos\n")))
    assert p.path == "log_level"
    assert "'debug', 'info', 'warning' or 'error'" in p.message
    p = only(problems_of(write(tmp_path, "log_level: warn\n")))
    assert p.hint == "did you mean 'warning'?"


def test_upstreams_must_not_be_empty(tmp_path: Path) -> None:
    p = only(problems_of(write(tmp_path, "upstreams: []\n")))
    assert (p.path, p.message) == ("upstreams", "must have at least 1 entry")


def test_section_that_is_not_a_mapping(tmp_path: Path) -> None:
    p = only(problems_of(write(tmp_path, "gateway: 8400\n")))
    assert (p.path, p.message, p.value) == ("gateway", "must be a mapping", 8400)


def test_every_problem_is_reported_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, "log_level: loud\ngateway:\n  port: -1\n  bogus: 1\n")
    err = raises(load_settings, path, env={})
    assert [p.path for p in err.problems] == ["log_level", "gateway.port", "gateway.bogus"]
    assert [p.line for p in err.problems] == [1, 3, 4]
    lines = str(err).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{path}:") for line in lines)


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  port: 1\n   host: x\n")
    p = only(problems_of(path))
    assert (p.line, p.column) == (3, 8)
    assert p.message.startswith("invalid YAML: mapping values are not allowed here")
    assert str(ConfigError([p])).startswith(f"{path}:3:8: invalid YAML")


def test_yaml_tab_indentation(tmp_path: Path) -> None:
    p = only(problems_of(write(tmp_path, "gateway:\n\tport: 1\n")))
    assert p.line == 2
    assert "tabs" in p.hint


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "a list"), ("just text\n", "a single value ('just text')")]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    p = only(problems_of(write(tmp_path, text)))
    assert p.message == (
        f"the top level must be a mapping of sections such as 'gateway:', got {kind}"
    )
    assert p.line == 1


def test_duplicate_key(tmp_path: Path) -> None:
    p = only(problems_of(write(tmp_path, "gateway:\n  port: 1\n  port: 2\n")))
    assert (p.path, p.line) == ("gateway.port", 3)
    assert "first on line 2" in p.message


def test_missing_file_names_the_path_and_suggests_init(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    p = only(problems_of(missing))
    assert p.source == missing
    assert "not found" in p.message
    assert f"infersight config init --path {missing}" in p.hint


def test_missing_file_named_by_env_names_the_variable(tmp_path: Path) -> None:
    p = only(problems_of(None, {"INFERSIGHT_CONFIG": "gone.yaml"}))
    assert p.source == "environment variable INFERSIGHT_CONFIG"
    assert "'gone.yaml'" in p.message


def test_directory_instead_of_file(tmp_path: Path) -> None:
    p = only(problems_of(str(tmp_path)))
    assert "directory" in p.message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"gateway:\n  host: caf\xe9\n")
    assert "UTF-8" in only(problems_of(str(path))).message


# --- environment overrides ---------------------------------------------------------------------


def test_env_nested_values_parse_as_yaml_scalars() -> None:
    s = load_settings(
        env={
            "INFERSIGHT_GATEWAY__PORT": "9000",
            "INFERSIGHT_GATEWAY__CAPTURE_TEXT": "true",
            "INFERSIGHT_GATEWAY__CONNECT_TIMEOUT_S": "2.5",
            "INFERSIGHT_STORE__WRITER__BATCH_SIZE": "100",
            "infersight_log_level": "DEBUG",  # case-insensitive name and value
        }
    )
    assert s.gateway.port == 9000
    assert s.gateway.capture_text is True
    assert s.gateway.connect_timeout_s == 2.5
    assert s.store.writer.batch_size == 100
    assert s.log_level == "debug"


def test_env_text_fields_keep_the_raw_string() -> None:
    s = load_settings(env={"INFERSIGHT_STORE__PATH": "0123", "INFERSIGHT_GATEWAY__HOST": "yes"})
    assert (s.store.path, s.gateway.host) == ("0123", "yes")


@pytest.mark.parametrize(
    "value",
    [
        '[{"url": "http://x:8000"}, {"url": "http://y:8000", "name": "y"}]',
        "[{url: 'http://x:8000'}, {url: 'http://y:8000', name: y}]",
    ],
)
def test_env_list_as_json_or_yaml(value: str) -> None:
    s = load_settings(env={"INFERSIGHT_UPSTREAMS": value})
    assert [(u.name, u.url) for u in s.upstreams] == [
        ("default", "http://x:8000"),
        ("y", "http://y:8000"),
    ]


def test_env_list_entry_by_index_starts_from_the_defaults() -> None:
    s = load_settings(
        env={"INFERSIGHT_UPSTREAMS__0__NAME": "main", "INFERSIGHT_UPSTREAMS__1__URL": "http://b:1"}
    )
    assert [(u.name, u.url) for u in s.upstreams] == [
        ("main", "http://127.0.0.1:8000"),
        ("default", "http://b:1"),
    ]


def test_env_upstream_url_shortcut(tmp_path: Path) -> None:
    assert load_settings(env={"INFERSIGHT_UPSTREAM_URL": "http://z:9/"}).upstreams[0].url == (
        "http://z:9"
    )
    path = write(tmp_path, "upstreams:\n  - name: a\n    url: http://a:1\n  - url: http://b:1\n")
    s = load_settings(path, env={"INFERSIGHT_UPSTREAM_URL": "http://z:9"})
    assert [(u.name, u.url) for u in s.upstreams] == [
        ("a", "http://z:9"),
        ("default", "http://b:1"),
    ]


def test_env_beats_file(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  port: 1111\n  host: 0.0.0.0\nlog_level: error\n")
    s = load_settings(path, env={"INFERSIGHT_GATEWAY__PORT": "2222"})
    assert (s.gateway.port, s.gateway.host, s.log_level) == (2222, "0.0.0.0", "error")


def test_env_list_replaces_the_file_list_and_specific_beats_general(tmp_path: Path) -> None:
    path = write(tmp_path, "upstreams:\n  - url: http://file:1\n  - url: http://file:2\n")
    env = {
        "INFERSIGHT_UPSTREAMS__0__NAME": "first",
        "INFERSIGHT_UPSTREAMS": '[{"url": "http://env:1"}]',
    }
    s = load_settings(path, env=env)
    assert [(u.name, u.url) for u in s.upstreams] == [("first", "http://env:1")]


def test_env_var_naming_no_setting_is_an_error() -> None:
    p = only(problems_of(None, {"INFERSIGHT_GATWAY__PORT": "1"}))
    assert p.source == "environment variable INFERSIGHT_GATWAY__PORT"
    assert "did you mean 'gateway'?" in p.message
    assert "INFERSIGHT_<SECTION>__<KEY>" in p.hint
    p = only(problems_of(None, {"INFERSIGHT_GATEWAY__PORT__X": "1"}))
    assert "'gateway.port' is a single value" in p.message
    p = only(problems_of(None, {"INFERSIGHT_UPSTREAMS__5__URL": "http://x:1"}))
    assert "past the end" in p.message


def test_env_bad_value_is_labelled_with_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  port: 1\n")
    p = only(problems_of(path, {"INFERSIGHT_GATEWAY__PORT": "70000"}))
    assert p.render() == (
        "environment variable INFERSIGHT_GATEWAY__PORT: gateway.port: must be <= 65535, "
        "got 70000 (set a value between 0 and 65535)"
    )
    p = only(problems_of(None, {"INFERSIGHT_UPSTREAMS": '[{"url": "x"}]'}))
    assert (p.source, p.path) == ("environment variable INFERSIGHT_UPSTREAMS", "upstreams[0].url")


def test_env_invalid_yaml_list() -> None:
    p = only(problems_of(None, {"INFERSIGHT_UPSTREAMS": '[{"url": "http://x:1"}'}))
    assert p.message.startswith("not valid YAML/JSON")
    assert "single quotes" in p.hint


def test_file_and_env_problems_are_reported_together(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway:\n  port: x\n")
    problems = problems_of(path, {"INFERSIGHT_NOPE": "1"})
    assert {p.source for p in problems} == {path, "environment variable INFERSIGHT_NOPE"}


# --- CLI flags, generic overrides, dumping ---------------------------------------------------


def test_cli_flags_beat_env() -> None:
    s = load_settings(env={"INFERSIGHT_GATEWAY__PORT": "9000"})
    t = apply_cli_overrides(
        s, port=9100, host="0.0.0.0", upstream_url="http://gpu:8000/", db_path=Path("x.db")
    )
    assert (t.gateway.port, t.gateway.host) == (9100, "0.0.0.0")
    assert t.upstreams[0].url == "http://gpu:8000"  # normalised like a file value
    assert t.store.path == "x.db"
    assert s.gateway.port == 9000  # the input is not modified
    assert apply_cli_overrides(s) is s


def test_cli_flag_errors_name_the_option() -> None:
    err = raises(apply_cli_overrides, Settings(), port=99999)
    assert str(err).startswith("command-line option --port: gateway.port: must be <= 65535")
    err = raises(apply_cli_overrides, Settings(), upstream_url="gpu")
    problem = only(list(err.problems))
    assert (problem.path, problem.source) == ("upstreams[0].url", "command-line option --upstream")


def test_apply_overrides_by_dotted_path() -> None:
    s = apply_overrides(Settings(), {"gateway.port": 1, "upstreams[0].name": "n"})
    assert (s.gateway.port, s.upstreams[0].name) == (1, "n")
    err = raises(apply_overrides, Settings(), {"gateway.prot": 1})
    assert "did you mean 'port'?" in str(err)


def test_dump_round_trips() -> None:
    s = load_settings(env={"INFERSIGHT_GATEWAY__PORT": "9000"})
    for fmt in ("yaml", "json"):
        data = yaml.safe_load(dump_settings(s, fmt))
        assert settings_from_mapping(data) == s


def test_config_error_renders_one_problem_per_line() -> None:
    err = ConfigError(
        [
            ConfigProblem("a.b", "must be > 0", -1, "set a value greater than 0", "f.yaml", 3),
            ConfigProblem("", "invalid YAML: oops", source="f.yaml", line=1, column=2),
        ]
    )
    assert str(err) == (
        "f.yaml:3: a.b: must be > 0, got -1 (set a value greater than 0)\n"
        "f.yaml:1:2: invalid YAML: oops"
    )


def test_booleans_are_refused_for_numbers_everywhere(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gateway:\n  port: true\n  body_timeout_s: false\n"
        "alerting:\n  rules:\n    - name: r\n      kind: threshold\n      metric: ttft_seconds\n"
        "      threshold: true\n",
        name="bools.yaml",
    )
    rendered = [p.render() for p in problems_of(path, env={})]
    assert rendered == [
        f"{path}:2: gateway.port: must be a number, got true (write a number, e.g. 8400)",
        f"{path}:3: gateway.body_timeout_s: must be a number, got false "
        "(write a number, e.g. 30.0)",
        f"{path}:9: alerting.rules[0].threshold: must be a number, got true (write a number)",
    ]
    (problem,) = problems_of(None, env={"INFERSIGHT_GATEWAY__PORT": "true"})
    assert problem.source == "environment variable INFERSIGHT_GATEWAY__PORT"
    assert problem.path == "gateway.port"
    assert load_settings(None, env={"INFERSIGHT_GATEWAY__PORT": "8401"}).gateway.port == 8401
    assert load_settings(
        None, env={"INFERSIGHT_GATEWAY__CAPTURE_TEXT": "true"}
    ).gateway.capture_text


def test_a_number_hint_never_suggests_null(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "alerting:\n  rules:\n    - name: r\n      kind: threshold\n      metric: ttft_seconds\n"
        "      threshold: abc\n",
    )
    (problem,) = problems_of(path, env={})
    assert problem.render() == (
        f"{path}:6: alerting.rules[0].threshold: must be a number, got 'abc' (write a number)"
    )


def test_upstream_names_are_unique(tmp_path: Path) -> None:
    path = write(tmp_path, "upstreams:\n  - url: http://a:1\n  - name: b\n  - url: http://c:1\n")
    (problem,) = problems_of(path, env={})
    assert problem.render() == (
        f"{path}:4: upstreams[2].name: the upstream name 'default' is already used by "
        "upstreams[0] (give each upstream its own name; one without name: is 'default')"
    )
