"""Prompt templates and the tokenisation of one training example.

An example is tokenised as two parts, prompt and response, each on its own, so the
boundary between them is exact (no token straddles it) and the model sees at inference
the very prompt tokens it was trained on. The response ends with the end-of-sequence
token (alpaca's template) or the chat template's end-of-turn, so the model learns to stop.

Labels are ``-100`` (ignored) on the prompt unless ``train_on_inputs``; the first token
of every example is never a target either (nothing precedes it), which also keeps a
packed sequence from predicting one example's first token from the previous example.
"""
from dataclasses import dataclass

from bioharness import UsageError

IGNORE = -100

ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Response:\n"
)


def user_message(instruction, input_text):
    return f"{instruction}\n\n{input_text}" if input_text.strip() else instruction


@dataclass(frozen=True)
class Encoded:
    id: str
    input_ids: list
    labels: list

    @property
    def num_targets(self):
        return sum(1 for t in self.labels if t != IGNORE)


class PromptFormat:
    """Renders and tokenises instructions with one template (``alpaca`` or ``chat``)."""

    def __init__(self, tokenizer, template="alpaca"):
        self.tokenizer = tokenizer
        self.template = template
        if template == "chat" and not getattr(tokenizer, "chat_template", None):
            raise UsageError("lora trainer: --template chat, but the base model's tokenizer has no chat template")
        if template not in ("alpaca", "chat"):
            raise UsageError(f"lora trainer: unknown template {template!r}")
        if tokenizer.eos_token_id is None:
            raise UsageError("lora trainer: the tokenizer has no end-of-sequence token")

    def prompt_text(self, instruction, input_text="") -> str:
        """The text the model is given; its answer follows directly."""
        if self.template == "alpaca":
            if input_text.strip():
                return ALPACA_WITH_INPUT.format(instruction=instruction, input=input_text)
            return ALPACA_NO_INPUT.format(instruction=instruction)
        messages = [{"role": "user", "content": user_message(instruction, input_text)}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def prompt_ids(self, instruction, input_text="") -> list:
        text = self.prompt_text(instruction, input_text)
        # alpaca: the tokenizer's own special tokens (BOS for Llama); chat: the template has them
        return self.tokenizer(text, add_special_tokens=self.template == "alpaca")["input_ids"]

    def response_ids(self, instruction, input_text, output) -> list:
        tok = self.tokenizer
        if self.template == "alpaca":
            return tok(output, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        prompt = self.prompt_text(instruction, input_text)
        messages = [{"role": "user", "content": user_message(instruction, input_text)},
                    {"role": "assistant", "content": output}]
        full = tok.apply_chat_template(messages, tokenize=False)
        if not full.startswith(prompt):
            raise UsageError(
                "lora trainer: the chat template does not render a conversation as its prompt followed by the "
                "answer, so the answer tokens cannot be told apart; use --template alpaca"
            )
        return tok(full[len(prompt):], add_special_tokens=False)["input_ids"]

    def encode(self, inst, cutoff_len, train_on_inputs=False) -> Encoded:
        prompt = self.prompt_ids(inst.instruction, inst.input)
        response = self.response_ids(inst.instruction, inst.input, inst.output)
        ids = (prompt + response)[:cutoff_len]
        if train_on_inputs:
            labels = list(ids)
        else:
            labels = ([IGNORE] * len(prompt) + response)[:cutoff_len]
        labels[0] = IGNORE
        return Encoded(inst.id, ids, labels)
