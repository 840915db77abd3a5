"""The trainer's data parallelism on ``accelerate`` (one process, or DDP).

Every process draws the same global batch from the same seeded generator and trains on its
contiguous share (``share``), so DDP's gradient average is the one-process full-batch
gradient (batch_size must be divisible by the number of processes; the policy-gradient form
gathers the oracle answers so that its baseline is the global one). Only the main process
writes files; every process waits for it (``on_main``).
"""


def default_accelerator():
    from accelerate import Accelerator

    return Accelerator(cpu=True)


def share(accelerator, num) -> slice:
    """This process's contiguous share of a global batch of ``num``."""
    world, rank = accelerator.num_processes, accelerator.process_index
    size = num // world
    return slice(rank * size, (rank + 1) * size)


def gather(accelerator, tensor):
    """The global batch of a per-process tensor (the tensor itself in one process)."""
    return accelerator.gather(tensor) if accelerator.num_processes > 1 else tensor


def mean(accelerator, tensor) -> float:
    """The mean over processes of a scalar tensor."""
    return float(accelerator.reduce(tensor.detach().clone(), "mean"))


def total(accelerator, count: int) -> int:
    """The sum over processes of an integer."""
    if accelerator.num_processes == 1:
        return count
    import torch

    return int(accelerator.reduce(torch.tensor(count), "sum"))


def on_main(accelerator, write, fallback=None):
    """``write()`` on the main process (others get ``fallback``); every process waits."""
    result = write() if accelerator.is_main_process else fallback
    accelerator.wait_for_everyone()
    return result
