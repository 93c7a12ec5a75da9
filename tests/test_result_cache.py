"""Runtime proofs (oracle, EXPECT-MAP) are kept like observations, except harness trouble."""

from harness import result_cache
from harness.classify import Result
from harness.outcome import Outcome


def test_a_proof_is_kept_and_harness_trouble_is_not(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    agrees = Result("oracle/current_tgid", "bcc-0.26@linux-6.1", Outcome.PASS, "sites as expected",
                    oracle="agrees: 1 site(s) read the same value as the original expression")
    no_result = Result("oracle/x", "bcc-0.26@linux-6.1", Outcome.PASS, "sites as expected",
                       oracle="harness: no oracle result (timeout: ...)")
    trouble = Result("oracle/y", "bcc-0.26@linux-6.1", Outcome.HARNESS, "oracle: the trigger did not fire")
    for name, r in (("a", agrees), ("b", no_result), ("c", trouble)):
        result_cache.put_proof(result_cache.proof_key(name), r)
    assert result_cache.get_proof(result_cache.proof_key("a")) == agrees
    assert result_cache.get_proof(result_cache.proof_key("b")) is None
    assert result_cache.get_proof(result_cache.proof_key("c")) is None


def test_a_change_to_the_harness_code_is_a_new_proof_key(monkeypatch):
    before = result_cache.proof_key("k")
    monkeypatch.setattr(result_cache, "harness_code_hash", lambda: "another")
    assert result_cache.proof_key("k") != before
