"""Interview transcripts: read them into turns, split them into questions, de-identify them.

turns.py      Turn: one speaker's uninterrupted words (the record every format becomes)
read.py       transcript file (.docx, .txt, .vtt, .srt) -> speaker turns
questions.py  turns -> one passage per scheme question (markers, corrections, word matching)
redact.py     redact.csv rules applied to turns; review of the capitalised words left
scheme.py     the `kind: transcript` part of a coding scheme (questions, anchors, not codable)
passages.py   one interview's redacted turns and question passages as its JSON document
synth.py      short generated PDI-style transcripts for tests and the demo
-- the `transcripts` stage (reads and writes study files) --
inputs.py     the study's transcript scheme, redact.csv, transcript_corrections.csv
stage.py      transcripts_study: interviews.csv -> transcripts.csv + transcripts/<id>.json

turns, questions, redact, scheme and passages are pure (no study, no Label Studio): the import
contracts in pyproject.toml keep them so.
"""
