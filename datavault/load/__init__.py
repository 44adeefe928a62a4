"""The load path: inputs, the batch ledger, staging, entity loads, and the loader over them.

``inputs`` reads a batch's rows (``changes``: a Debezium change event as a row);
``batches`` keeps the ledger (``dv_batch``); ``staging`` lands, types and hashes a batch into
its source's staging table; ``entities`` runs one hub, link or satellite load of a staged
batch; ``checks`` runs and records a source's checks at entry; ``loader`` drives them under
the source's lock.
"""

from datavault.load.batches import STATES, Batch, Ledger
from datavault.load.checks import CheckRun
from datavault.load.entities import EntityResult
from datavault.load.inputs import BatchInput, arrow_input, open_input
from datavault.load.loader import REFUSED, Loader, LoadResult, Progress

__all__ = ["REFUSED", "STATES", "Batch", "BatchInput", "CheckRun", "EntityResult", "Ledger",
           "LoadResult", "Loader", "Progress", "arrow_input", "open_input"]
