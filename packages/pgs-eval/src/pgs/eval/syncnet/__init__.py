"""SyncNet lip-sync scoring (LSE-D / LSE-C) as joonson/syncnet_python computes it.

- `model`: the SyncNet architecture with syncnet_python's parameter names, so the published
  ``syncnet_v2.model`` state dict loads;
- `mfcc`: python_speech_features 0.6 default MFCCs (13 x 100 Hz);
- `scoring`: distances at offsets -15..+15, LSE-D = minimum, LSE-C = median - minimum;
- `pipeline`: frames and audio -> 5-frame 224x224 crops and 13x20 MFCC windows -> scores.
"""

from pgs.eval.syncnet.mfcc import mfcc
from pgs.eval.syncnet.model import SyncNet, load_syncnet
from pgs.eval.syncnet.pipeline import sync_scores_for_frames
from pgs.eval.syncnet.scoring import SyncScores, offset_distances, scores_from_distances

__all__ = [
    "SyncNet",
    "SyncScores",
    "load_syncnet",
    "mfcc",
    "offset_distances",
    "scores_from_distances",
    "sync_scores_for_frames",
]
