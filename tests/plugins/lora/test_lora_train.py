"""Training on the tiny random Llama: loss, log, manifest, adapter, sanity check, merge."""
import json

import pytest
import torch

from bioharness.instructions import instructions_digest, read_instructions
from bioharness.plugins.lora.trainer import LoraTrainer

from_options = LoraTrainer.from_options


def read_log(run):
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]


def test_loss_decreases_and_every_step_is_logged(trained_run):
    run, result, records = trained_run
    log = read_log(run)
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert records == log  # each entry went to on_record as written
    losses = [r["loss"] for r in log]
    # the same 16 examples in every step: the loss falls step after step
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < losses[0] - 0.1, losses
    for r in log:
        assert r["tokens"] == r["nonpad_tokens"] > r["target_tokens"] > 0  # packed: no padding at all
        assert r["tokens_per_s"] > 0 and r["step_seconds"] > 0
        assert r["learning_rate"] is not None and r["grad_norm"] > 0
    assert result["first_loss"] == losses[0] and result["final_loss"] == losses[-1]
    assert result["steps"] == 4 and result["packing"] == "position-ids"
    # on CPU: one example at a time in attention, the loss on the target positions only
    assert result["attention"] == "bioharness_packed_sdpa" and result["loss"] == "target tokens, chunked"
    assert [r["epoch"] for r in log] == [1.0, 2.0, 3.0, 4.0]


def test_manifest_records_config_data_and_examples(trained_run, fixed_set, tiny_llama_dir):
    run, result, _ = trained_run
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["stage"] == "train" and manifest["complete"] is True
    examples = read_instructions(fixed_set)
    assert manifest["config"]["examples"] == {
        "count": 16, "sha256": instructions_digest(examples), "dropped_too_long": 0,
        "by_category": {"gen": 4, "ie": 4, "other": 4, "qa": 4},
    }
    config = manifest["config"]
    assert (config["lora_r"], config["lora_alpha"], config["lora_dropout"]) == (8, 16, 0.05)
    assert config["target_modules"] == ["q_proj", "v_proj"] and config["learning_rate"] == 0.05
    assert config["base_path"] == str(tiny_llama_dir)
    assert manifest["inputs"]["data"]["sha256"]
    assert {"torch", "transformers", "peft"} <= set(manifest["versions"])
    assert manifest["result"] == result
    assert (run / "example_ids.txt").read_text().split() == [e.id for e in examples]
    assert not (run / "checkpoints").exists()  # removed once complete


def test_adapter_is_a_standard_peft_directory(trained_run, tiny_llama_dir):
    run, _, _ = trained_run
    adapter = run / "adapter"
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in adapter.iterdir()}
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 8 and config["lora_alpha"] == 16
    assert sorted(config["target_modules"]) == ["q_proj", "v_proj"]
    assert config["base_model_name_or_path"] == str(tiny_llama_dir)
    from safetensors.torch import load_file

    weights = load_file(adapter / "adapter_model.safetensors")
    assert len(weights) == 2 * 2 * 2  # 2 layers x (q, v) x (A, B)
    assert all(".lora_A." in k or ".lora_B." in k for k in weights)
    assert all(w.abs().sum() > 0 for k, w in weights.items() if ".lora_B." in k)  # B starts at zero: it trained


def test_adapter_loads_with_peft_and_the_hf_backend_and_changes_outputs(trained_run, tiny_llama_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from bioharness.modelspec import parse_model_spec
    from bioharness.plugins.hf.backend import HFBackend
    from bioharness.records import Request

    run, _, _ = trained_run
    ids = torch.tensor([[1, 520, 1100, 2200, 31, 9]])
    base = AutoModelForCausalLM.from_pretrained(tiny_llama_dir).eval()
    with torch.no_grad():
        base_logits = base(input_ids=ids).logits
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_llama_dir), str(run / "adapter")).eval()
    with torch.no_grad():
        tuned_logits = tuned(input_ids=ids).logits
    assert (tuned_logits - base_logits).abs().max() > 1e-2

    requests = [Request(id=str(i), prompt=p, chat=False, max_new_tokens=8)
                for i, p in enumerate(["Which organ does hepatitis B mainly affect?", "Convert 102 F to Celsius."])]
    plain = HFBackend.from_spec(parse_model_spec(f"hf:{tiny_llama_dir}"), device="cpu")
    adapted = HFBackend.from_spec(parse_model_spec(f"hf:{tiny_llama_dir}+{run / 'adapter'}"), device="cpu")
    assert adapted.info["adapter"] == str(run / "adapter")
    before = [p.text for p in plain.generate(requests)]
    after = [p.text for p in adapted.generate(requests)]
    assert before != after
    with torch.no_grad():
        torch.testing.assert_close(adapted.model(input_ids=ids).logits, tuned_logits)


def test_sanity_check_and_merge(trained_run):
    from transformers import AutoModelForCausalLM

    run, result, _ = trained_run
    sanity = json.loads((run / "sanity.json").read_text())
    assert sanity["verdict"] == result["sanity"] == "changed"
    assert sanity["prompts"] == 3 and sanity["outputs_changed"] >= 1 and sanity["max_abs_logit_diff"] > 0
    assert all(s["base"] != s["adapted"] for s in sanity["samples"][:1])
    merged = AutoModelForCausalLM.from_pretrained(run / "merged").eval()
    assert merged.config.use_cache is True
    from peft import PeftModel

    base_dir = json.loads((run / "adapter" / "adapter_config.json").read_text())["base_model_name_or_path"]
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), str(run / "adapter")).eval()
    ids = torch.tensor([[1, 700, 4000, 12, 88]])
    with torch.no_grad():
        torch.testing.assert_close(merged(input_ids=ids).logits, tuned(input_ids=ids).logits, atol=1e-4, rtol=1e-4)


def test_an_adapter_that_changes_nothing_is_reported_loudly(tiny_llama_dir, tokenizer, tmp_path, capsys):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from bioharness.plugins.lora import sanity
    from bioharness.plugins.lora.prompts import PromptFormat

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_llama_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.save_pretrained(tmp_path / "untrained")  # lora_B is all zeros: a no-op adapter
    check = sanity.check_adapter(model, tmp_path / "untrained", PromptFormat(tokenizer), n_prompts=2, max_new_tokens=4)
    assert check["verdict"] == sanity.UNCHANGED
    assert check["outputs_changed"] == 0 and check["max_abs_logit_diff"] == 0.0
    assert "bioharness_sanity" not in model.peft_config  # the loaded copy was removed again
    sanity.report(check)
    err = capsys.readouterr().err
    assert "ADAPTER SANITY CHECK FAILED" in err and "changes nothing" in err


def test_packed_and_padded_training_take_the_same_steps(options_for, tmp_path):
    """End to end through the Trainer: same batches in the same order, same losses, same adapter.

    Without LoRA dropout: its random masks are drawn per tensor shape, so a packed and a
    padded batch cannot share them (they agree in distribution, not draw by draw)."""
    from safetensors.torch import load_file

    logs, weights = {}, {}
    for packing in (True, False):
        out = tmp_path / f"packing-{packing}"
        result = from_options(**options_for(max_steps=2, batch_size=8, micro_batch_size=4, packing=packing,
                                            lora_dropout=0.0, sanity_prompts=0)).run(out)
        assert result["packing"] == ("position-ids" if packing else "off")
        logs[packing] = read_log(out)
        weights[packing] = load_file(out / "adapter" / "adapter_model.safetensors")
    packed, padded = logs[True], logs[False]
    for a, b in zip(packed, padded):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-4)
        assert a["nonpad_tokens"] == b["nonpad_tokens"] and a["target_tokens"] == b["target_tokens"]
        assert b["tokens"] > b["nonpad_tokens"]  # the padded batches carry padding
    for name, w in weights[True].items():
        torch.testing.assert_close(w, weights[False][name], atol=1e-4, rtol=1e-3)


def test_categories_select_a_subset_and_the_manifest_says_which(options_for, fixed_set, tmp_path):
    out = tmp_path / "qa-ie"
    result = from_options(**options_for(categories="qa,ie", max_steps=1, sanity_prompts=0)).run(out)
    chosen = [e for e in read_instructions(fixed_set) if e.category in ("qa", "ie")]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["categories"] == ["qa", "ie"]
    assert manifest["config"]["examples"]["count"] == result["examples"] == 8
    assert manifest["config"]["examples"]["by_category"] == {"ie": 4, "qa": 4}
    assert manifest["config"]["examples"]["sha256"] == result["examples_sha256"] == instructions_digest(chosen)
    assert (out / "example_ids.txt").read_text().split() == [e.id for e in chosen]


def test_adapter_is_accepted_by_vllms_lora_loader(trained_run):
    """What vLLM does with a LoRARequest's path: parse the PEFT config, check it against the
    engine's LoRA settings, and map every tensor onto a module of the model."""
    from vllm.config.lora import LoRAConfig
    from vllm.lora.lora_model import LoRAModel
    from vllm.lora.peft_helper import PEFTHelper

    run, _, _ = trained_run
    helper = PEFTHelper.from_local_dir(str(run / "adapter"), max_position_embeddings=1024)
    helper.validate_legal(LoRAConfig(max_lora_rank=8))
    assert (helper.r, helper.lora_alpha, sorted(helper.target_modules)) == (8, 16, ["q_proj", "v_proj"])
    model = LoRAModel.from_local_checkpoint(
        str(run / "adapter"), expected_lora_modules={"q_proj", "k_proj", "v_proj", "o_proj"},
        peft_helper=helper, lora_model_id=1, device="cpu")
    assert sorted(model.loras) == [f"model.layers.{i}.self_attn.{p}" for i in range(2) for p in ("q_proj", "v_proj")]
