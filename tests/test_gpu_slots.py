"""GPU slots on a multi-GPU workstation, tested without GPUs (fake device lists)."""

import os
import subprocess
import sys
import textwrap

import pytest

from genhep.gpu_slots import claim_gpu, gpu_for_this_job, visible_gpus


def test_visible_gpus_honour_cuda_visible_devices_and_nvidia_smi(tmp_path):
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2,5"}) == ["2", "5"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []  # explicitly none
    fake = tmp_path / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\n"
        "echo 'GPU 0: NVIDIA H100 (UUID: GPU-a)'\n"
        "echo 'GPU 1: NVIDIA H100 (UUID: GPU-b)'\n"
    )
    fake.chmod(0o755)
    assert visible_gpus({}, nvidia_smi=str(fake)) == ["0", "1"]
    assert visible_gpus({}, nvidia_smi=str(tmp_path / "missing")) == []


def test_concurrent_claims_get_different_gpus_and_wait_when_all_are_taken(tmp_path):
    with claim_gpu(["2", "5"], tmp_path) as first:
        with claim_gpu(["2", "5"], tmp_path) as second:
            assert {first, second} == {"2", "5"}
            with pytest.raises(TimeoutError, match="no free GPU"):
                with claim_gpu(["2", "5"], tmp_path, timeout=0.3, poll=0.1):
                    pass
        with claim_gpu(["2", "5"], tmp_path, timeout=1) as third:
            assert third == second  # released, taken again
    with claim_gpu([], tmp_path) as none:
        assert none is None


def test_a_crashed_job_frees_its_gpu(tmp_path):
    """The kernel drops a dead process's flock: a killed job leaves no stale slot."""
    holder = textwrap.dedent(f"""
        import os, signal
        from genhep.gpu_slots import claim_gpu
        with claim_gpu(["0"], {str(tmp_path)!r}):
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", holder])
    assert result.returncode == -9
    with claim_gpu(["0"], tmp_path, timeout=1) as gpu:
        assert gpu == "0"


def test_jobs_on_a_four_gpu_machine_each_see_one_gpu(tmp_path, monkeypatch):
    """Four concurrent GPU stages on a fake 4-GPU machine: each restricted to its own."""
    script = textwrap.dedent("""
        import os, sys, time
        from genhep.gpu_slots import gpu_for_this_job
        with gpu_for_this_job():
            print(os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
            time.sleep(1.0)
    """)
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0,1,2,3", "GENHEP_GPU_LOCK_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    seen = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert seen == ["0", "1", "2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    with gpu_for_this_job() as gpu:  # one GPU (as under SLURM): nothing to choose
        assert gpu == "7" and os.environ["CUDA_VISIBLE_DEVICES"] == "7"
