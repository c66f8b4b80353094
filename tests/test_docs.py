"""The README's set-up commands and CLI stay true."""

import re
import subprocess
import sys

from conftest import PROJECT

README = (PROJECT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (PROJECT / "Makefile").read_text(encoding="utf-8")


def test_readme_names_the_two_setup_commands_and_they_exist():
    assert "make run" in README and "make test" in README
    targets = set(re.findall(r"^([a-z]+):", MAKEFILE, re.M))
    assert {"run", "test", "install"} <= targets
    assert re.search(
        r"^run: install\n\t.*-m warehouse run --source sample/landing --root data", MAKEFILE, re.M
    )


def test_ci_calls_the_readme_test_command():
    assert "make test" in (PROJECT / ".ci" / "run").read_text()


def test_readme_cli_commands_parse():
    for command in re.findall(r"^python -m warehouse ([\w-]+)", README, re.M):
        done = subprocess.run(
            [sys.executable, "-m", "warehouse", command, "--help"],
            capture_output=True,
            text=True,
            cwd=PROJECT,
        )
        assert done.returncode == 0, done.stderr


def test_readme_command_list_matches_the_cli_both_ways():
    """The README's command block names every CLI command with exactly its options, and nothing else."""
    import typer.main

    from warehouse.cli import app

    block = README.split("## Command line", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    documented = {}
    for line in block.strip().splitlines():
        command, *rest = line.removeprefix("python -m warehouse ").split(" ", 1)
        documented[command] = set(re.findall(r"--[\w-]+", rest[0] if rest else ""))
    cli = {
        name: {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")}
        for name, cmd in typer.main.get_command(app).commands.items()
    }
    assert documented == cli


def test_help_works_with_h_and_flags_look_like_flags():
    for command in ("run", "backfill", "evaluate", "dictionary"):
        done = subprocess.run(
            [sys.executable, "-m", "warehouse", command, "-h"], capture_output=True, text=True, cwd=PROJECT
        )
        assert done.returncode == 0 and "Usage" in done.stdout and "<bool>" not in done.stdout, command


def test_readme_layer_table_matches_the_models():
    from schemas import MODELS

    for (layer, table), model in MODELS.items():
        assert f"`{layer}/{table}`" in README and f"`schemas.{model.__name__}`" in README


def test_every_dependency_is_pinned():
    lines = [
        x for x in (PROJECT / "requirements.lock").read_text().splitlines() if x and not x.startswith("#")
    ]
    assert all("==" in x for x in lines)
    names = {x.split("==")[0].lower().replace("_", "-") for x in lines}
    assert {"prefect", "polars", "pandera", "pyarrow", "great-expectations", "fastapi"} <= names


def test_readme_data_dictionary_is_generated_from_the_models():
    from schemas import MODELS
    from warehouse import dictionary

    assert dictionary.readme_with_dictionary(README) == README, (
        "README data dictionary drifted: run `python -m warehouse dictionary --write`"
    )
    for model in MODELS.values():
        for column in model.to_schema().columns:
            assert f"| `{column}` |" in README


def test_readme_names_every_deployment_and_the_work_pool():
    import yaml

    from flows.server import POOL

    config = yaml.safe_load((PROJECT / "prefect.yaml").read_text(encoding="utf-8"))
    for spec in config["deployments"]:
        assert f"`{spec['name']}`" in README, spec["name"]
        assert spec["work_pool"]["name"] == POOL  # the pool `server-setup` creates
    assert f"`{POOL}`" in README and "python -m warehouse server-setup" in README


def test_consumer_snippets_run(sample_run, tmp_path, monkeypatch):
    section = README.split("## For consumers", 1)[1].split("\n## ", 1)[0]
    snippets = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(snippets) == 4
    (tmp_path / "data").symlink_to(sample_run.resolve(), target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for code in snippets:
        exec(compile(code, "README.md", "exec"), {})


def test_readme_dictionary_covers_every_curated_table():
    for table in ("curated/indicators", "curated/indicator_panel", "curated/regions", "curated/documents"):
        assert f"#### `{table}`" in README


def test_the_lock_keeps_sqlalchemy_that_the_prefect_server_supports():
    """SQLAlchemy 2.1 breaks the scheduler of the pinned Prefect server (tests/test_server.py sees it)."""
    lock = (PROJECT / "requirements.lock").read_text()
    (version,) = re.findall(r"^SQLAlchemy==(\S+)$", lock, re.M)
    assert version.startswith("2.0."), version


def test_readme_limits_table_matches_the_settings_both_ways():
    from warehouse.settings import Limits

    rows = dict(re.findall(r"^\| `(WAREHOUSE_MAX_\w+)` \| ([\d.]+) \|", README, re.M))
    expected = {f"WAREHOUSE_{f.upper()}": str(getattr(Limits(), f)) for f in Limits.__dataclass_fields__}
    assert rows == expected


def test_readme_reliability_table_is_the_generated_one_and_cites_real_tests():
    import reliability_table

    assert reliability_table.table() in README, "run: python tests/reliability_table.py --write"
    for _, _, test in reliability_table.OTHER:
        module, name = test.split("::")
        assert f"def {name}(" in (PROJECT / "tests" / f"{module}.py").read_text(encoding="utf-8"), test
