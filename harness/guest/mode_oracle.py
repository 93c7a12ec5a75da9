"""Mode oracle: the differential value oracle's probe and twin on the same event of one trigger."""

import os

from guestlib import redirect_fd2, staged_result
from programs import attach_point_missing, open_programs, read_recorded, run_trigger


def run_oracle(case_path, out):
    """Differential oracle: both programs on the same event of one trigger process."""
    case, result, save = staged_result(case_path, out, "oracle.json")
    programs = {}
    try:
        for role in ("probe", "twin"):
            try:
                programs[role] = open_programs(case, role, os.path.dirname(case_path), out)
            except Exception as e:   # bcc's compile error, or (split mode) the loader's load error
                result["error"] = "%s does not compile or load: %s" % (role, e)
                return
        result["stage"] = "attach"
        save()
        for role, p in programs.items():
            redirect_fd2(os.path.join(out, "attach-%s.log" % role))
            for name, kind, target in case["attach"]:
                try:
                    p.attach(name, kind, target, None)
                except Exception as e:
                    result["error"] = "%s: attaching %s to %s %s failed: %s" % (role, name, kind, target, e)
                    if attach_point_missing(kind, target):
                        result["missing"] = "%s %s" % (kind, target)
                    return
        result["stage"] = "trigger"
        # Twice, with other inputs the second time (values land under id | ROUND_ID of round 2)
        for round_ in (0, 1):
            run_trigger(case.get("trigger", "open").split(), list(programs.values()), result, round_)
        for role, p in programs.items():
            result["values"][role] = read_recorded(p.table("__harness_values"))
        result["stage"] = "done"
    finally:
        save()
        for p in programs.values():
            p.close()
