"""Label Studio: the study's private server, scheme -> labeling config, push, pull, coders."""
