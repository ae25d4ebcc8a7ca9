"""The study report: self-contained HTML with embedded figures."""
