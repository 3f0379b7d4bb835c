"""How requests become token ids with a Hugging Face tokenizer: the hf backend's, and the
vllm plugin's (vLLM loads the same tokenizer; it imports this module).

Two engines given the same request must see the same tokens, or their outputs cannot be
compared (hf and vllm parity depends on it). So the rendering of a chat request, the
truncation of an over-long prompt and the split of a log-likelihood pair live here, once.

``tokenizer`` is a Hugging Face tokenizer (anything with ``__call__``, ``chat_template``,
``apply_chat_template``, ``bos_token_id`` and ``eos_token_id``); nothing here imports torch
or transformers. (Named ``tokens``, not ``tokenize``: a module named like the standard
library's ``tokenize`` breaks ``inspect`` and ``linecache`` when its folder lands on ``sys.path``.)
"""
from bioharness import UsageError, split_trailing_space


def has_chat_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_prompt(tokenizer, request) -> str:
    """The exact text fed to the model for ``request`` (chat template applied if any)."""
    if request.chat and has_chat_template(tokenizer):
        messages = ([{"role": "system", "content": request.system}] if request.system else []) + [
            {"role": "user", "content": request.prompt}
        ]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return (request.system + "\n\n" + request.prompt) if request.system else request.prompt


def encode_prompt(tokenizer, request, max_length) -> list[int]:
    """Token ids of the rendered prompt, cut from the left to leave room for
    ``request.max_new_tokens`` within ``max_length``."""
    text = render_prompt(tokenizer, request)
    templated = request.chat and has_chat_template(tokenizer)
    # A chat template writes its own special tokens; adding them again would double the BOS.
    ids = tokenizer(text, add_special_tokens=not templated)["input_ids"]
    budget = max_length - request.max_new_tokens
    if budget < 1:
        raise UsageError(f"request {request.id}: max_new_tokens {request.max_new_tokens} >= max_length {max_length}")
    return ids[-budget:]  # keep the end of an over-long prompt: the question is there


def encode_pair(tokenizer, context, continuation, max_length) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) for scoring ``continuation`` after ``context``.

    The continuation's ids are those of the whole text minus those of the context, so a
    token spanning the boundary is counted once, the way the model reads the whole text.
    The context is cut from the left so that the model reads at most ``max_length`` tokens
    (context and continuation but its last token, which is only predicted), as lm-eval does.
    """
    context, continuation = split_trailing_space(context, continuation)
    if context:
        whole = tokenizer(context + continuation, add_special_tokens=True)["input_ids"]
        ctx = tokenizer(context, add_special_tokens=True)["input_ids"]
        cont = whole[len(ctx):]
    else:
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        ctx, cont = [start], tokenizer(continuation, add_special_tokens=False)["input_ids"]
    if not cont:
        raise UsageError(f"empty continuation after tokenisation: {continuation!r}")
    if len(cont) > max_length:
        raise UsageError(f"continuation of {len(cont)} tokens does not fit max_length {max_length}")
    ctx = ctx[-(max_length + 1 - len(cont)):]
    return ctx, cont
