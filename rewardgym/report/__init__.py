"""``rewardgym report``: a reward method over a fixed protocol of every family, as one report card.

- ``protocol``: the protocols (``smoke``, ``full``, or a YAML file) and the ``Method`` evaluated.
- ``runner``: trains and evaluates every entry, resumably, beside its floors and oracle.
- ``page``: writes the HTML page, its Markdown twin and the CSV; compares two reports.
"""

from rewardgym.report.page import write_comparison, write_report
from rewardgym.report.protocol import Method, Protocol, load_protocol
from rewardgym.report.runner import run_report

__all__ = ["Method", "Protocol", "load_protocol", "run_report", "write_comparison", "write_report"]
