"""Interview transcripts: read them into turns, split them into questions, de-identify them.

turns.py      Turn: one speaker's uninterrupted words (the record every format becomes)
read.py       transcript file (.docx, .txt, .vtt, .srt) -> speaker turns
questions.py  turns -> one passage per scheme question (markers, corrections, word matching)
redact.py     redact.csv rules applied to turns; review of the capitalised words left
scheme.py     the `kind: transcript` part of a coding scheme (questions, anchors, not codable)
synth.py      short generated PDI-style transcripts for tests and the demo
"""
