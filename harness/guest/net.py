"""The network the runtime checks use: a veth pair into a namespace the guest creates (pyroute2)."""

import os
import struct
import time

NET_NS, HOST_IF, PEER_IF = "harness-peer", "hveth0", "hveth1"
HOST_IP, PEER_IP = "10.200.0.1", "10.200.0.2"


SYS_INIT_MODULE = 175     # x86_64
NET_MODULES = ("veth", "sch_ingress", "cls_bpf")


def load_modules(names):
    """modprobe, for a root without kmod: resolve modules.dep, decompress, init_module(2)."""
    import ctypes
    import lzma
    base = "/lib/modules/%s" % os.uname().release
    deps = {}
    with open(os.path.join(base, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[os.path.basename(path).split(".ko")[0].replace("-", "_")] = (path, rest.split())
    libc = ctypes.CDLL(None, use_errno=True)
    done = set()

    def load(path):
        name = os.path.basename(path).split(".ko")[0].replace("-", "_")
        if name in done:
            return
        done.add(name)
        for dep in deps.get(name, (path, []))[1]:
            load(dep)
        with open(os.path.join(base, path), "rb") as f:
            image = f.read()
        if path.endswith(".xz"):
            image = lzma.decompress(image)
        if libc.syscall(SYS_INIT_MODULE, image, len(image), b"") != 0 and ctypes.get_errno() != 17:
            raise OSError(ctypes.get_errno(), "init_module %s failed" % name)
    for name in names:
        if name in deps and not os.path.exists("/sys/module/" + name):
            load(deps[name][0])


class Net(object):
    """A veth pair into a network namespace we create: the only hosts network cases talk to."""

    def __init__(self):
        from pyroute2 import netns
        self.netns = netns
        self.ipr = None
        load_modules(NET_MODULES)
        if NET_NS in netns.listnetns():      # left over by a case that died
            netns.remove(NET_NS)
        try:
            self._setup()
        except Exception:
            self.close()
            raise

    def _setup(self):
        from pyroute2 import IPRoute, NetNS
        netns = self.netns
        netns.create(NET_NS)
        self.ipr = IPRoute()
        self.ipr.link("add", ifname=HOST_IF, kind="veth", peer=PEER_IF)
        self.idx = self.ipr.link_lookup(ifname=HOST_IF)[0]
        peer = self.ipr.link_lookup(ifname=PEER_IF)[0]
        self.ipr.link("set", index=peer, net_ns_fd=NET_NS)
        self.ipr.addr("add", index=self.idx, address=HOST_IP, prefixlen=24)
        self.ipr.link("set", index=self.idx, state="up")
        ns = NetNS(NET_NS)
        try:
            pidx = ns.link_lookup(ifname=PEER_IF)[0]
            ns.addr("add", index=pidx, address=PEER_IP, prefixlen=24)
            ns.link("set", index=pidx, state="up")
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        finally:
            ns.close()

    def attach(self, kind, fd, target, bcc_fn=None):
        """tc through pyroute2 in both modes; XDP and socket filters through bcc when bcc loaded the
        program (guest mode), else through pyroute2 and a packet socket, as libbcc does it."""
        if kind == "tc":
            self.ipr.tc("add", "clsact", self.idx)
            parent = "ffff:fff2" if target == "ingress" else "ffff:fff3"
            self.ipr.tc("add-filter", "bpf", self.idx, ":1", fd=fd, name="harness", parent=parent,
                        classid=1, direct_action=True)
        elif kind == "xdp" and bcc_fn is not None:
            from bcc import BPF
            BPF.attach_xdp(HOST_IF, bcc_fn, 1 << 1)        # XDP_FLAGS_SKB_MODE: generic, any driver
        elif kind == "xdp":
            self.attach_xdp(fd)
        elif kind == "socket" and bcc_fn is not None:
            from bcc import BPF
            BPF.attach_raw_socket(bcc_fn, HOST_IF)
            self.keep = bcc_fn
        elif kind == "socket":
            import socket
            self.keep = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))   # ETH_P_ALL
            self.keep.bind((HOST_IF, 0))
            self.keep.setsockopt(socket.SOL_SOCKET, 50, fd)                                # SO_ATTACH_BPF
        else:
            raise ValueError("cannot attach %s" % kind)

    def attach_xdp(self, fd):
        """XDP through pyroute2 with IFLA_XDP_FD alone, so the kernel picks the mode (native on veth):
        pyroute2 0.7 and 0.8 encode IFLA_XDP_FLAGS in 16 bits where the kernel wants 32, and 0.5 only
        knows IFLA_XDP as raw bytes."""
        from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
        if hasattr(ifinfmsg, "xdp"):
            self.ipr.link("set", index=self.idx, xdp={"attrs": [("IFLA_XDP_FD", fd)]})
        else:
            self.ipr.link("set", index=self.idx, xdp=struct.pack("<HHi", 8, 1, fd))

    def send_udp(self, count, size, port):
        import socket
        self.netns.pushns(NET_NS)
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        finally:
            self.netns.popns()
        for _ in range(count):
            s.sendto(b"h" * size, (HOST_IP, port))
            time.sleep(0.05)
        s.close()
        time.sleep(0.3)

    def close(self):
        if self.ipr is not None:
            try:
                for idx in self.ipr.link_lookup(ifname=HOST_IF):
                    self.ipr.link("del", index=idx)
            except Exception:
                pass
            self.ipr.close()
        try:
            self.netns.remove(NET_NS)
        except Exception:
            pass
