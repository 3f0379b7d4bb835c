"""What both parity tests check, sample by sample, between a bioharness backend and lm-eval."""


def agree(examples, requests, flat, theirs):
    """Assert the same prompts and the same chosen option on every sample; return the
    largest log-likelihood difference. ``flat``: our answers to the flattened ``requests``;
    ``theirs``: lm-eval's logged samples in document order."""
    assert len(theirs) == len(examples)
    worst, pos = 0.0, 0
    for example, reqs, sample in zip(examples, requests, theirs):
        outs, pos = flat[pos : pos + len(reqs)], pos + len(reqs)
        # the same context and continuations, character for character
        assert [(r.context, r.continuation) for r in reqs] == [tuple(a) for a in sample["arguments"]]
        mine = [o.logprob for o in outs]
        lm = [float(r[0]) for r in sample["filtered_resps"]]
        worst = max(worst, *(abs(a - b) for a, b in zip(mine, lm)))
        assert mine.index(max(mine)) == lm.index(max(lm)), example.id
    return worst
