"""The coder script added to Label Studio's pages (pure part): where it goes, its nonce."""

from coding_pipeline.labelstudio.ls_site.coder_ui import SCRIPT, SETTINGS_KEY, inject_script

PAGE = b"<!DOCTYPE html><html><HEAD><title>x</title></HEAD ><body><script>app()</script></body>"


def test_the_script_goes_just_before_the_end_of_head():
    page = inject_script(PAGE)
    head_end = page.lower().index(b"</head")
    tag = b'<script id="coding-pipeline-coder-ui">'
    assert page.index(tag) < head_end < page.index(b"<body>")
    assert page.replace(tag + SCRIPT.encode() + b"</script>", b"") == PAGE


def test_the_script_carries_the_csp_nonce_escaped():
    page = inject_script(PAGE, nonce='abc"def')
    assert b'<script id="coding-pipeline-coder-ui" nonce="abc&quot;def">' in page


def test_a_page_without_head_is_left_alone():
    fragment = b"<div>partial</div>"
    assert inject_script(fragment) is fragment


def test_the_script_sets_one_frame_per_step_in_label_studios_settings_key():
    assert SETTINGS_KEY == "labelStudio:settings"
    assert "videoHopSize: 1" in SCRIPT and "localStorage.setItem(key" in SCRIPT
