"""The matrix file, cell selection, and the observation cache."""

import pytest

from harness.matrix import MatrixError, load_matrix


def test_matrix_has_four_packaged_rewriters_and_four_kernels():
    m = load_matrix()
    assert [n for n, r in m.rewriters.items() if not r.source] == ["bcc-0.18", "bcc-0.26", "bcc-0.31", "bcc-0.37"]
    assert [n for n, r in m.rewriters.items() if r.source] == ["bcc-src-0.31", "bcc-src-0.31+fix", "bcc-src-master",
                                                                  "bcc-upstream"]
    assert [k.suite for k in m.kernels.values()] == ["bullseye", "bookworm", "trixie", "sid"]
    assert len(m.select(["all"])) == 16
    assert [c.name for c in m.select(["bcc-0.31@linux-5.10"])] == ["bcc-0.31@linux-5.10"]


def test_unknown_cell_lists_the_choices():
    with pytest.raises(MatrixError, match="rewriters bcc-0.18, bcc-0.26"):
        load_matrix().cell("bcc-9@linux-6.1")


def test_images_are_per_rewriter_and_per_kernel():
    cells = load_matrix().select(["all"])
    assert len({c.rewriter.recipe().key() for c in cells}) == 4
    assert len({c.kernel.recipe().key() for c in cells}) == 4


def test_observation_cache_skips_harness_trouble(tmp_path, monkeypatch, recorded):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    from dataclasses import replace
    from harness import result_cache
    case, obs, _ = recorded("cases/seed/count_sched.c")
    k = result_cache.key(case, "r", "k", "split")
    assert result_cache.get(k) is None
    result_cache.put(k, obs)
    assert result_cache.get(k) == obs
    k2 = result_cache.key(replace(case, text=case.text + "\n"), "r", "k", "split")
    assert k2 != k
    result_cache.put(k2, replace(obs, status="timeout"))
    assert result_cache.get(k2) is None
