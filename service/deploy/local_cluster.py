"""A Ray cluster of several nodes on this machine, for tests, benchmarks and a first try (docs/SCALING.md):

    python -m service.deploy.local_cluster up --nodes 2               # prints the address; Ctrl-C (or SIGTERM) stops it
    python -m service.deploy.local_cluster up --nodes 2 --serve 8000  # and deploys deploy/ray/serve.yaml on it

Each node is one ``ray start --block`` in its own process group, with its own temporary directory and ports (two
nodes on one machine must not share the dashboard agent's or the metrics' fixed default ports). Stopping kills
those process groups and any process still naming our temporary directory — never ``ray stop``, which stops every
Ray process on the machine, someone else's cluster included — also when the start fails or is interrupted.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
SERVE_YAML = Path(__file__).resolve().parents[2] / "deploy" / "ray" / "serve.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class LocalCluster:
    def __init__(self, nodes: int = 2, cpus_per_node: float = 2, env: dict | None = None, dashboard: bool = True):
        # Short on purpose: Ray's Unix sockets live under it, and a socket path has at most 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
        self.nodes, self.cpus, self.dashboard = nodes, cpus_per_node, dashboard
        # One machine has one Serve proxy (``local_serve_config``), which would send every request to its own node's
        # replica: Serve prefers the local one, right on a real cluster where each node has its proxy.
        local = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING": "0"}
        self.env = {**os.environ, **(env or {}), **local}
        self.port = free_port()
        self.dashboard_port = free_port()
        self.address = f"{HOST}:{self.port}"
        self.processes: list[subprocess.Popen] = []

    @property
    def dashboard_url(self) -> str:
        return f"http://{HOST}:{self.dashboard_port}"

    def _node_command(self, index: int) -> list[str]:
        ray = str(Path(sys.executable).with_name("ray"))
        command = [ray, "start", "--block", f"--num-cpus={self.cpus}", "--num-gpus=0", f"--node-ip-address={HOST}",
                   f"--temp-dir={self.root / f'node{index}'}", f"--dashboard-agent-listen-port={free_port()}",
                   f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
                   "--disable-usage-stats"]  # fmt: skip
        if index == 0:
            return command + ["--head", f"--port={self.port}", f"--ray-client-server-port={free_port()}",
                              f"--include-dashboard={str(self.dashboard).lower()}", f"--dashboard-host={HOST}",
                              f"--dashboard-port={self.dashboard_port}"]  # fmt: skip
        return command + [f"--address={self.address}"]

    def start(self, timeout_s: float = 120) -> "LocalCluster":
        """All nodes up; on any failure or interrupt on the way (Ctrl-C, a node that exits, a timeout), the nodes
        already started are stopped before the exception goes on: nothing is left running."""
        try:
            for index in range(self.nodes):
                log = (self.root / f"node{index}.log").open("w")
                self.processes.append(subprocess.Popen(
                    self._node_command(index), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                ))  # fmt: skip
                self._wait_for_nodes(index + 1, timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_nodes(self, count: int, timeout_s: float) -> None:
        """Until the GCS counts ``count`` live nodes (asked from a fresh process; one that takes too long on a busy
        machine is asked again, until the deadline); a node process that exits fails."""
        deadline = time.monotonic() + timeout_s
        probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
                 "print(sum(n['Alive'] for n in ray.nodes()))")  # fmt: skip
        while time.monotonic() < deadline:
            for index, process in enumerate(self.processes):
                if process.poll() is not None:
                    raise RuntimeError(f"ray node {index} exited:\n{self.log(index)[-3000:]}")
            try:
                seen = subprocess.run([sys.executable, "-c", probe, self.address], env=self.env, capture_output=True,
                                      text=True, timeout=max(1.0, min(60.0, deadline - time.monotonic())))  # fmt: skip
            except subprocess.TimeoutExpired:
                continue
            if seen.returncode == 0 and seen.stdout.strip().splitlines()[-1:] == [str(count)]:
                return
            time.sleep(0.5)
        raise TimeoutError(f"{count} ray node(s) not up after {timeout_s} s:\n{self.log(0)[-3000:]}")

    def log(self, index: int) -> str:
        return (self.root / f"node{index}.log").read_text(errors="replace")

    def node_pids(self, index: int) -> set[int]:
        """Node ``index``'s processes: its ``ray start`` and every descendant (Ray's workers start sessions of
        their own, so a process group does not hold them all)."""
        import psutil  # in the ray extra

        try:
            root = psutil.Process(self.processes[index].pid)
            return {root.pid} | {child.pid for child in root.children(recursive=True)}
        except psutil.NoSuchProcess:
            return set()

    def pids(self) -> set[int]:
        """Every process of this cluster: the nodes' trees, and whatever still names our temporary directory."""
        found = set().union(*(self.node_pids(i) for i in range(len(self.processes))))
        marker = str(self.root).encode()
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
        return found - {os.getpid()}

    def stop(self, grace_s: float = 10) -> None:
        """Every process of this cluster ended, its directory removed. A second Ctrl-C or SIGTERM waits until then (it
        is delivered afterwards): interrupting the stop would leave nodes running."""
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self._stop(grace_s)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def _stop(self, grace_s: float) -> None:
        known = self.pids()  # before the tree comes apart
        for process in reversed(self.processes):  # workers first, then the head
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while any(p.poll() is None for p in self.processes) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = known | self.pids()
        for _ in range(5):  # again for a process started meanwhile (a raylet starting its agents as it was stopped)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not (left := self.pids() - left):
                break
        for process in self.processes:
            process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def serve(self, *args: str, timeout_s: float = 120) -> str:
        """The ``serve`` command line against this cluster's dashboard; its output."""
        serve = str(Path(sys.executable).with_name("serve"))
        done = subprocess.run([serve, *args, "-a", self.dashboard_url], env=self.env, capture_output=True, text=True,
                              timeout=timeout_s)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"serve {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def applications(self) -> dict:
        """``serve status``'s applications: name → {status, deployments: {name: {replica_states, …}}, …}."""
        import yaml  # comes with ray

        return yaml.safe_load(self.serve("status")).get("applications") or {}

    def deploy(self, config: dict, timeout_s: float = 300) -> None:
        """``serve deploy`` of ``config``, then wait until its applications are RUNNING (or fail on DEPLOY_FAILED)."""
        import yaml  # comes with ray

        path = self.root / "serve.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        self.serve("deploy", str(path))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            apps = self.applications()
            states = {name: app.get("status") for name, app in apps.items()}
            if states and all(state == "RUNNING" for state in states.values()):
                return
            if "DEPLOY_FAILED" in states.values():
                raise RuntimeError(f"deploy failed: {apps}")
            time.sleep(1)
        raise TimeoutError(f"not RUNNING after {timeout_s} s: {apps}")

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def local_serve_config(port: int, settings_env: dict, replicas: int | None = 2, replica_cpus: float = 2) -> dict:
    """deploy/ray/serve.yaml as shipped, changed only where one machine differs from a GPU cluster: one proxy (two
    nodes' proxies cannot bind one port of one machine), no GPU, the given settings; ``replicas`` fixed, or None to
    keep the shipped autoscaling. A replica asking for a whole node's CPUs gets a node of its own."""
    import yaml

    config = yaml.safe_load(SERVE_YAML.read_text())
    config["proxy_location"] = "HeadOnly"
    config["http_options"] = {"host": HOST, "port": port}
    [app] = config["applications"]
    app["runtime_env"]["env_vars"] = {k: v for k, v in settings_env.items() if k.startswith("SUMMARIZER_")}
    [deployment] = app["deployments"]
    if replicas is not None:
        del deployment["autoscaling_config"]
        deployment["num_replicas"] = replicas
    deployment["ray_actor_options"] = {"num_cpus": replica_cpus, "num_gpus": 0}
    return config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.deploy.local_cluster", description=__doc__)
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--cpus-per-node", type=float, default=2)
    parser.add_argument("--serve", type=int, metavar="PORT", help="deploy serve.yaml, one replica per node, on PORT")
    args = parser.parse_args(argv)
    # SIGTERM stops the cluster as Ctrl-C does, at any moment (starting, deploying, up): both raise
    # KeyboardInterrupt, which start() and the with block turn into stop().
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    up = False
    try:
        with LocalCluster(args.nodes, args.cpus_per_node) as cluster:
            up = True
            print(f"ray cluster of {args.nodes} nodes up: address {cluster.address}, dashboard {cluster.dashboard_url}",
                  flush=True)  # fmt: skip
            if args.serve:
                settings = {k: v for k, v in os.environ.items() if k.startswith("SUMMARIZER_")}
                cluster.deploy(local_serve_config(args.serve, settings, args.nodes, args.cpus_per_node))
                print(f"serving on http://{HOST}:{args.serve} ({args.nodes} replicas); Ctrl-C stops it", flush=True)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        print("stopped" if up else "interrupted while starting; stopped what had started", file=sys.stderr, flush=True)
    return 0 if up else 130


if __name__ == "__main__":
    sys.exit(main())
