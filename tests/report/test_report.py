"""The HTML report: every section present, figures embedded, nothing loaded from the network."""

import re

from coding_pipeline.report.html import report_study
from coding_pipeline.study import load_study


def test_report_is_self_contained_and_has_every_section(rated_study):
    path = report_study(load_study(rated_study.root))
    text = path.read_text()
    for heading in ("Reliability", "Alpha with 95% intervals", "Coder pairs",
                    "Bland-Altman plots of composites", "Drift over time", "Coder certification",
                    "Score distributions by arm and timepoint"):
        assert f"<h2>{heading}</h2>" in text
    sources = re.findall(r'src="([^"]+)"', text)
    # forest + 2 heatmaps + 3 Bland-Altman + 2 drift + 3 score figures
    assert len(sources) == 11
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in text and "https://" not in text
    assert "t@lab.org" in text and ("pass" in text or "not yet" in text)
    assert "Maternal sensitivity (composite)" in text
    # no dyad identifiers in a report that may be shown outside the lab
    assert "D00" not in re.sub(r'src="[^"]+"', "", text)
