"""Training of the motion auto-encoder and the flow model: a generic engine plus model-independent parts.

The :class:`Trainer` optimises any :class:`TrainTask` (networks + loss) on any resumable :class:`DataSource`,
with AdamW, gradient accumulation and clipping, mixed precision on CUDA, EMA, LR schedules, CSV/PNG loss curves,
exact checkpoint/resume and data parallelism under ``torchrun``. :func:`run_training` is the entry point.
"""

from motionkit.train.checkpoint import TrainingState, latest_checkpoint, load_checkpoint, save_checkpoint
from motionkit.train.distributed import DistContext, init_distributed
from motionkit.train.ema import EMA
from motionkit.train.engine import Trainer, TrainResult
from motionkit.train.metrics import MetricsLog, plot_metrics
from motionkit.train.protocols import (
    DataSource,
    LossOutput,
    Phase,
    PhasedTask,
    SamplingTask,
    StepContext,
    TrainTask,
)
from motionkit.train.run import TASK_BUILDERS, TaskBuilder, register_task, run_training
from motionkit.train.schedules import LRSchedule
from motionkit.train.tasks import AutoencoderTask, FlowTask, export_model  # registers the "ae" and "flow" tasks

__all__ = [
    "EMA",
    "TASK_BUILDERS",
    "AutoencoderTask",
    "DataSource",
    "DistContext",
    "FlowTask",
    "LRSchedule",
    "LossOutput",
    "MetricsLog",
    "Phase",
    "PhasedTask",
    "SamplingTask",
    "StepContext",
    "TaskBuilder",
    "TrainResult",
    "TrainTask",
    "Trainer",
    "TrainingState",
    "export_model",
    "init_distributed",
    "latest_checkpoint",
    "load_checkpoint",
    "plot_metrics",
    "register_task",
    "run_training",
    "save_checkpoint",
]
