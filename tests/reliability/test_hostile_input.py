"""Hostile input answered in one line (issue 30): names with control characters, deeply nested configs.

Each case goes through the command line in-process and must end in one
``tfvae: error:`` line with exit status 2 (a traceback or a folder whose
name ends in a newline before).
"""

import pytest

from tfvae.cli import main
from tfvae.config import ExperimentConfig
from tfvae.export.layout import check_model_name

DEEP = 100_000  # far beyond Python's recursion limit


def one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tfvae: error: "), err
    return err[0]


@pytest.mark.parametrize("name", ["vae\n", "vae\r", "v\x00ae", "vae\x7f", "\nvae"])
def test_a_model_name_with_a_control_character_is_refused(name, tmp_path, capsys):
    with pytest.raises(Exception, match="must start with a letter or digit"):
        check_model_name(name)
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(ExperimentConfig().to_json())
    (run / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    assert main(["export", str(run), "--name", name, "--out-root", str(tmp_path / "served")]) == 2
    assert "must start with a letter or digit" in one_error(capsys)
    assert not (tmp_path / "served").exists()


@pytest.mark.parametrize("name", ["bad\x01name", "tab\tname", "new\nline"])
def test_a_run_name_with_a_control_character_is_refused(name, tmp_path, capsys):
    assert main(["train", "vae", "--name", name, "--out", str(tmp_path / "run")]) == 2
    assert "name: must be a plain name" in one_error(capsys)
    assert not (tmp_path / "run").exists()


def test_deeply_nested_configs_are_one_line(tmp_path, capsys):
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * DEEP + "]" * DEEP + "\n")
    assert main(["train", str(deep)]) == 2
    assert "nested too deeply" in one_error(capsys)
    assert main(["train", "vae", "--set", "train.epochs=" + "[" * 5000 + "]" * 5000]) == 2
    assert "nested too deeply" in one_error(capsys)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("[" * DEEP + "]" * DEEP)
    for command in (["export", str(run)], ["evaluate", str(run)], ["sample", str(run)]):
        assert main(command) == 2
        assert "is not a valid run config: it is nested too deeply" in one_error(capsys)


def test_a_busy_run_directory_is_refused_before_tensorflow_is_imported(tmp_path):
    import json
    import socket
    import subprocess
    import sys

    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / ".lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(),
                                               "purpose": "tfvae train", "started": "2026-12-07 16:00:00"}))
        code = ("import sys; from tfvae.cli import main; status = main(['train', 'vae', '--out', sys.argv[1]]); "
                "print(status, 'tensorflow' in sys.modules)")
        done = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, timeout=60)
    finally:
        holder.kill()
        holder.wait()
    assert done.stdout.split() == ["2", "False"], done.stdout + done.stderr
    err = done.stderr.strip().splitlines()
    assert err == [f"tfvae: error: {run} is in use by tfvae train (pid {holder.pid} on {socket.gethostname()}, "
                   f"since 2026-12-07 16:00:00): wait for it to finish or use another directory (--out); if no such "
                   f"process runs, delete {run / '.lock'}"], done.stderr
    assert sorted(p.name for p in run.iterdir()) == [".lock"]  # nothing written
