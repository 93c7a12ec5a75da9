"""Mode runtime: attach a case, run its trigger, read the map values its EXPECT-MAP lines name."""

import os

from guestlib import staged_result
from net import Net
from programs import NET_KINDS, attach_point_missing, open_programs, read_int, run_trigger


def uses_network(case):
    """A case that needs the veth pair (net.py): a tc, XDP or socket program, or a udp trigger."""
    return case.get("trigger", "open").split()[0] == "udp" or any(kind in NET_KINDS for _, kind, _ in case["attach"])


def run_runtime(case_path, out):
    """Runtime checks: attach the case, run its trigger, read the map values its EXPECT-MAP lines name."""
    case, result, save = staged_result(case_path, out, "runtime.json")
    net = programs = None
    trigger = case.get("trigger", "open").split()
    try:
        programs = open_programs(case, "runtime", os.path.dirname(case_path), out)
        if uses_network(case):
            result["stage"] = "network"
            save()
            net = Net()
        result["stage"] = "attach"
        for name, kind, target in case["attach"]:
            try:
                programs.attach(name, kind, target, net)
            except Exception:
                if attach_point_missing(kind, target):
                    result["missing"] = "%s %s" % (kind, target)
                raise
        result["stage"] = "trigger"
        save()
        if trigger[0] == "udp":
            net.send_udp(int(trigger[1]), int(trigger[2]), int(trigger[3]))
        else:
            run_trigger(trigger, [], result)
        for name, key, _op, _value in case["expect_map"]:
            result["values"]["%s[%d]" % (name, key)] = read_int(programs.table(name), key)
        result["stage"] = "done"
    except Exception as e:
        result["error"] = "%s: %s: %s" % (result["stage"], type(e).__name__, e)
    finally:
        save()
        if net is not None:
            net.close()
        if programs is not None:
            programs.close()
