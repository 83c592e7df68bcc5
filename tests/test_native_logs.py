"""TensorFlow's native start-up chatter stays out of the terminal; real messages do not."""

import os
import subprocess
import sys
import textwrap

import pytest

from tfvae.cli import build_parser
from tfvae.commands import command_names
from tfvae.commands._native_logs import is_noise, wants_native_logs

# Lines TensorFlow 2.21 printed on this machine (pre-absl lines carry a raw epoch time).
PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = "I0000 00:00:1796303686.841254    5615 port.cc:153] oneDNN custom operations are on."
CUINIT = ("E0000 00:00:1796303692.656591    5615 cuda_platform.cc:52] failed call to cuInit: INTERNAL: "
          "CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)")
REMAPPER = ("E0000 00:00:1796303709.778159    5705 meta_optimizer.cc:967] remapper failed: INVALID_ARGUMENT: "
            "Mutation::Apply error: fanout 'while/body' exist for missing node 'while/cond'.")
REAL_WARNING = "W1203 13:11:18.123456   4070 bfc_allocator.cc:296] Allocator ran out of memory trying to allocate 8.0GiB"


def test_noise_is_the_preamble_info_lines_and_known_errors():
    for line in (PREAMBLE, ONEDNN, CUINIT, REMAPPER, ONEDNN + "\n"):
        assert is_noise(line), line


def test_real_messages_are_not_noise():
    for line in (REAL_WARNING, "tfvae: warning: checkpoint skipped", "Traceback (most recent call last):",
                 "UserWarning: I0000 is not a log line here", "E  something", ""):
        assert not is_noise(line), line


def test_user_setting_or_verbose_shows_native_logs():
    assert wants_native_logs(True, {})
    assert wants_native_logs(False, {"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert not wants_native_logs(False, {})


def test_every_command_takes_verbose():
    subcommands = build_parser()._subparsers._group_actions[0].choices
    for name in command_names():
        assert "--verbose" in subcommands[name].format_help(), name


# Which start-up lines TensorFlow prints depends on the processor (no oneDNN line on an AMD EPYC) and on
# the drivers, so the child also writes known noise lines to descriptor 2 itself, as native code does:
# what the filter hides and --verbose shows is then the same on every machine. One child runs both modes
# (TensorFlow is imported once, inside the quiet block), its stderr split at MARK.
MARK = "=== now verbose ==="
CHILD = textwrap.dedent(
    """
    import os, sys, warnings
    from tfvae.commands._native_logs import quiet_native_logs
    warnings.simplefilter("always")

    def block(start_tensorflow):
        if start_tensorflow:
            import tensorflow as tf
            tf.constant(1.0) + 1.0
            tf.config.list_physical_devices("GPU")
        for line in %r:
            os.write(2, line + b"\\n")
        warnings.warn("a real python warning")
        os.write(2, %r + b"\\n")
        sys.stderr.write("partial line without newline")

    with quiet_native_logs(verbose=False):
        block(start_tensorflow=True)
    print("after block", file=sys.stderr)
    print(%r, file=sys.stderr)
    with quiet_native_logs(verbose=True):
        block(start_tensorflow=False)
    print("after block", file=sys.stderr)
    """
) % ([PREAMBLE.encode(), ONEDNN.encode(), CUINIT.encode()], REAL_WARNING.encode(), MARK)


@pytest.fixture(scope="module")
def child_stderr() -> tuple[str, str]:
    """What the child wrote to stderr in the quiet block and in the verbose one."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=300,
                            check=True)
    quiet, _, verbose = result.stderr.partition(MARK + "\n")
    assert verbose, result.stderr
    return quiet, verbose


def test_tensorflow_start_up_is_silent_by_default(child_stderr):
    quiet, _ = child_stderr
    assert "absl::InitializeLog" not in quiet
    assert "I0000" not in quiet and "cuInit" not in quiet and "oneDNN" not in quiet


def test_real_messages_still_reach_stderr(child_stderr):
    quiet, _ = child_stderr
    assert "UserWarning: a real python warning" in quiet
    assert REAL_WARNING in quiet
    assert "partial line without newline" in quiet
    assert quiet.rstrip().endswith("after block")  # every line is through before the block ends


def test_verbose_shows_native_start_up_lines_and_everything_else(child_stderr):
    quiet, verbose = child_stderr
    for line in (PREAMBLE, ONEDNN, CUINIT):  # written by the child: present on every processor
        assert line in verbose, line
    shown = set(verbose.splitlines())
    assert [line for line in quiet.splitlines() if line not in shown] == [], "verbose hides nothing"


@pytest.mark.slow  # keeps the fast suite short; CI's slow pass runs it
def test_tfvae_train_prints_no_native_lines(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-m", "tfvae.cli", "train", "vae", "--epochs", "1", "--set", "data.limit=64",
         "--set", "model.hidden_units=[16]", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stderr.splitlines() if is_noise(line)], result.stderr
    assert "absl" not in result.stderr and "cuInit" not in result.stderr
