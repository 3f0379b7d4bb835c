"""`bioharness train`: registration, options, and one-line errors (exit 2) for bad input."""
import json
import subprocess
import sys

import pytest

from bioharness.cli import main
from bioharness.manager import DEFAULT_PLUGINS, load_plugins
from bioharness.plugins.lora.config import TrainConfig


def run_cli(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.err


def test_registered_as_the_lora_trainer_with_its_options():
    assert "bioharness.plugins.lora" in DEFAULT_PLUGINS
    reg = load_plugins(env={}).hooks.trainers.get("lora")
    assert reg.plugin == "bioharness.plugins.lora"
    names = {opt.name for opt in reg.options}
    assert {"base", "data", "categories", "template", "train_on_inputs", "lora_r", "lora_alpha", "lora_dropout",
            "target_modules", "learning_rate", "epochs", "max_steps", "batch_size", "micro_batch_size",
            "cutoff_len", "warmup", "seed", "save_steps", "packing", "merge"} <= names


def test_help_is_instant_and_imports_no_engine():
    code = ("import sys; from bioharness.cli import main; main(['train', '--help']); "
            "heavy = [m for m in ('torch', 'transformers', 'peft') if m in sys.modules]; "
            "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "--categories" in proc.stdout and "--packing / --no-packing" in proc.stdout


def test_defaults_follow_alpaca_lora():
    cfg = TrainConfig(data="x.jsonl")
    assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.target_modules) == (8, 16, 0.05, ("q_proj", "v_proj"))
    assert (cfg.learning_rate, cfg.batch_size, cfg.micro_batch_size, cfg.cutoff_len) == (3e-4, 128, 4, 256)
    assert cfg.gradient_accumulation(1) == 32 and cfg.gradient_accumulation(8) == 4
    assert cfg.packing and not cfg.train_on_inputs and cfg.template == "alpaca"
    assert TrainConfig.from_options(data="x", target_modules="all-linear").target_modules == ("all-linear",)


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


GOOD = json.dumps({"instruction": "Define fever.", "input": "", "output": "A raised temperature.", "category": "qa"})


@pytest.mark.parametrize(
    "lines, expected",
    [
        ([GOOD, GOOD, json.dumps({"instruction": "x", "input": ""})], "{path}:3: missing field(s) output"),
        ([GOOD, '{"instruction": "x", "input": "", "output": '], "{path}:2: malformed JSON"),
        ([], "{path}: empty file: no instructions"),
        ([GOOD, json.dumps({"instruction": "x", "input": "", "output": "y", "category": "ner"})],
         "{path}:2: category 'ner' is not one of qa, ie, gen, other"),
    ],
)
def test_bad_data_is_one_line_with_file_and_line(capsys, tmp_path, lines, expected):
    path = write(tmp_path / "data.jsonl", lines)
    code, err = run_cli(capsys, "train", "--data", str(path), "--out", str(tmp_path / "run"))
    assert code == 2
    assert err.startswith("Error: " + expected.format(path=path))
    assert err.count("\n") == 1  # one line, no traceback
    assert not (tmp_path / "run" / "manifest.json").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--categories", "qa,diagnosis"], "--categories: diagnosis not among qa, ie, gen, other"),
        (["--categories", "gen"], "no instructions of categories gen (the file has: qa 2)"),
        (["--batch-size", "6", "--micro-batch-size", "4"], "--batch-size 6 is not a multiple of --micro-batch-size 4"),
        (["--base", "openai:gpt-4"], "only transformers models"),
        (["--base", "hf:./no/such/base"], "model './no/such/base': no such directory"),
        (["--lora-dropout", "1.5"], "--lora-dropout must be in [0, 1)"),
        (["--save-total-limit", "1"], "--save-total-limit must be >= 2"),
        (["--warmup", "2.5"], "must be whole"),
        (["--precision", "bf16"], "--precision bf16 needs a GPU"),
        (["--target-modules", "no_such_proj"], "--target-modules no_such_proj:"),
    ],
)
def test_bad_settings_exit_2(capsys, tmp_path, tiny_base, extra, message):
    path = write(tmp_path / "data.jsonl", [GOOD, GOOD.replace("fever", "fever again")])
    args = ["train", "--base", tiny_base, "--data", str(path), "--out", str(tmp_path / "run"), *extra]
    code, err = run_cli(capsys, *args)
    assert code == 2, err
    assert message in err and err.startswith("Error: ") and err.count("\n") == 1, err


def test_data_is_required(capsys, tmp_path):
    code, err = run_cli(capsys, "train", "--out", str(tmp_path / "run"))
    assert code == 2 and "--data FILE is required" in err


def test_settings_of_equal_value_give_one_manifest_key():
    """The CLI passes 0.0 and "q_proj,v_proj"; Python callers may pass 0 and a list."""
    a = TrainConfig.from_options(data="x.jsonl", warmup=0.0, lora_r=8, target_modules="q_proj,v_proj", epochs=1.0)
    b = TrainConfig.from_options(data="x.jsonl", warmup=0, lora_r=8.0, target_modules=["q_proj", "v_proj"], epochs=1)
    assert a.key_config() == b.key_config()
    assert isinstance(b.warmup, float) and isinstance(b.lora_r, int)
    # operational settings may change between a killed run and its resumption
    c = TrainConfig.from_options(data="x.jsonl", warmup=0, epochs=1, save_steps=7, merge=True, sanity_prompts=0)
    assert c.key_config() == a.key_config()
    assert TrainConfig.from_options(data="x.jsonl", warmup=0, epochs=1, seed=1).key_config() != a.key_config()
