"""The local Ray cluster helper leaves nothing running when its start fails or is interrupted (stand-in nodes; the
real ``up`` command interrupted by Ctrl-C and SIGTERM is in test_ray.py)."""

import sys

import pytest

from service.deploy.local_cluster import LocalCluster

psutil = pytest.importorskip("psutil")  # in the ray extra, as the helper's stop


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, TimeoutError])
def test_a_start_interrupted_midway_stops_the_nodes_already_started(monkeypatch, interrupt):
    cluster = LocalCluster(nodes=3)

    def node_command(index):  # a node that runs until stopped, naming the cluster's directory as ray's processes do
        return [sys.executable, "-c", "import time; time.sleep(600)", f"--temp-dir={cluster.root / f'node{index}'}"]

    def wait_for_nodes(count, timeout_s):
        if count == 2:  # the second node is starting: Ctrl-C (or a timeout)
            raise interrupt()

    monkeypatch.setattr(cluster, "_node_command", node_command)
    monkeypatch.setattr(cluster, "_wait_for_nodes", wait_for_nodes)
    try:
        with pytest.raises(interrupt):
            with cluster:
                pytest.fail("the cluster should not have started")
        assert len(cluster.processes) == 2
        assert all(p.poll() is not None for p in cluster.processes)
        assert not cluster.pids(), "node processes left running"
        assert not cluster.root.exists()
    finally:
        for process in cluster.processes:  # on the old code: the nodes this test started
            if process.poll() is None:
                process.kill()
                process.wait()
