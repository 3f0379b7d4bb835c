"""The ``openmedllm`` group: the leaderboard's nine tasks, selected by one name."""
import pytest

from bioharness.errors import DataError, UsageError
from bioharness.manager import load_plugins
from bioharness.taskspec import TaskCatalog, load_spec

NINE = {"openmedllm_medqa", "openmedllm_medmcqa", "openmedllm_pubmedqa",
        *(f"openmedllm_mmlu_{s}" for s in ("anatomy", "clinical_knowledge", "college_biology", "college_medicine",
                                           "medical_genetics", "professional_medicine"))}


def test_group_selects_the_nine_tasks_zero_shot_loglikelihood_raw_text():
    catalog = TaskCatalog(load_plugins().hooks)
    specs = catalog.select("openmedllm")
    assert {s.name for s in specs} == NINE
    assert all(s.num_fewshot == 0 and s.prompt["chat"] is False and s.options["scoring"] == "loglikelihood"
               for s in specs)
    # a group mixes with names; duplicates collapse
    assert [s.name for s in catalog.select("openmedllm_medqa,openmedllm")][0] == "openmedllm_medqa"
    assert len(catalog.select("openmedllm_medqa,openmedllm")) == 9
    with pytest.raises(UsageError, match="unknown task 'openmedlm'"):
        catalog.select("openmedlm")


def test_group_names_are_checked(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("name: t\nversion: 1\ncategory: qa\nkind: mcqa\ngroups: [qa]\n"
                    "data: {reader: medqa, split: test}\nprompt: {template: x}\nmetrics: [accuracy]\n")
    with pytest.raises(DataError, match="groups"):
        load_spec(path)


def test_mmlu_prompt_strips_the_question_like_lmeval(data_dir):
    catalog = TaskCatalog(load_plugins().hooks)
    spec = catalog.specs["openmedllm_mmlu_college_medicine"]
    kind = catalog.kind("mcqa")
    first = kind.load(spec, data_dir, "test")[0]
    assert first.inputs["question"].endswith("behavior? ")  # the raw CSV keeps the space
    context = kind.requests(spec, first, [])[0].context
    assert context.startswith("The following are multiple choice questions (with answers) about college medicine.\n\n")
    assert "behavior?\nA. " in context and context.endswith("\nAnswer:")
