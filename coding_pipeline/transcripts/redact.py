"""De-identify transcripts: redact.csv rules, a review of what is left, a last check before push.

redact.csv has one rule a row: `dyad_id` (a dyad's id, or `*` for every dyad), `term` and
`replacement` (for example `*, Bright Start, [PROGRAM]` or `D012, Mia, [CHILD]`). Terms match
case-insensitively on word boundaries, the longest first, in one pass (so a replacement is never
replaced again); a possessive keeps its ending ("Mia's" -> "[CHILD]'s"), spaces inside a term
match any run of white space, and straight and curly apostrophes match each other.

`review` lists the capitalised words left that may be names or places. It skips the words of
COMMON_CAPITALISED, a short built-in list of frequent capitalised words that are not names
(I, I'm, Mom, the days, the months, languages, sentence openers such as "So" and "Because";
the standard library has no dictionary), and a sentence's first word when the same word also
occurs in lower case in the interview (so "Sometimes" is skipped, "Mia" is not); words seen
only at the start of a sentence are listed last. The months April, May and June are in the
list, so those names are not flagged: redact them by rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from coding_pipeline.errors import PipelineError
from coding_pipeline.transcripts.turns import Turn

ALL_DYADS = "*"
DEFAULT_REPLACEMENT = "[REDACTED]"
_COMMON = """
I I'm I've I'd I'll Mom Mommy Mum Mummy Mama Dad Daddy Papa Grandma Grandpa Granny Nana Grandad
Grandmother Grandfather Auntie Aunt Uncle God Jesus Lord OK Okay Ok Yeah Yes No Nope Oh Ah Um Uh
Er Erm Mm Mhm Hmm Huh Wow Hi Hello Bye Please Thanks Thank Sorry Well So And But Or Because Cause
Then When While If Though Although Also Even Just Like Now Right Sure Really Actually Maybe
Probably Definitely Honestly Basically Anyway Sometimes Usually Always Never Often Still Yet
Again Once First Second Third Next Last Finally After Before Since Until Later Today Tonight
Tomorrow Yesterday Four Five Six Seven Eight Nine Ten The A An This That These Those There Here
It It's Its He He's She She's They
They're We We're We've You You're You've Your Me My Mine Our His Her Him Them Their What What's
Why How Where Who Which Whatever Everything Nothing Something Anything Everyone Someone Nobody
All Some Any Every Each Both One Two Three Not Don't Didn't Doesn't Can Can't Could Couldn't
Would Wouldn't Should Shouldn't Won't Is Isn't Was Wasn't Are Aren't Were Do Did Does Have
Had Has Let Let's Go Got Get Know Think Mean Said Say See Look Oh Of In On At For With To From
About As By Into Over Out Up Down Off Like Kind Sort Interviewer Parent Mother Father Child
Question Inaudible Crosstalk Laughs Laughing Pause Unclear Monday Tuesday Wednesday Thursday
Friday Saturday Sunday January February March April May June July August September October
November December Christmas Easter Halloween Thanksgiving Mother's Father's English Spanish
French German Chinese Arabic American British Mexican Latino Latina Hispanic TV
Mr Mrs Ms Miss Dr
"""
COMMON_CAPITALISED = frozenset(word.casefold() for word in _COMMON.split())
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")


@dataclass(frozen=True)
class RedactRule:
    dyad_id: str       # a dyad's id, or "*" for every dyad
    term: str
    replacement: str


@dataclass(frozen=True)
class ReviewItem:
    word: str
    count: int
    turn: int          # 1-based number of the first turn it occurs in
    line: int          # that turn's line, paragraph or cue in the source file
    example: str       # the words around its first occurrence
    sentence_start_only: bool = False  # seen only as a sentence's first word


def parse_redact_rows(rows: Iterable[Mapping[str, str]], source: str = "redact.csv"
                      ) -> list[RedactRule]:
    """Validate redact.csv rows (as csv.DictReader gives them; the header is row 1)."""
    rules: list[RedactRule] = []
    seen: dict[tuple[str, str], tuple[int, str]] = {}
    for row_number, row in enumerate(rows, start=2):
        where = f"{source}, row {row_number}"
        missing = [key for key in ("dyad_id", "term") if key not in row]
        if missing:
            raise PipelineError(f"{source}: column(s) {', '.join(missing)} missing: the columns "
                                "are dyad_id, term, replacement.")
        dyad_id = (row.get("dyad_id") or "").strip()
        term = " ".join((row.get("term") or "").split())
        replacement = (row.get("replacement") or "").strip() or DEFAULT_REPLACEMENT
        if not dyad_id:
            raise PipelineError(f"{where}: dyad_id is empty: give the dyad's id, or * for all.")
        if len(term) < 2:
            raise PipelineError(f"{where}: term '{term}' is too short to redact safely: give "
                                "the whole name or word.")
        key = (dyad_id, _fold(term))
        if key in seen and seen[key][1] != replacement:
            raise PipelineError(f"{where}: '{term}' for {dyad_id} is already replaced by "
                                f"'{seen[key][1]}' in row {seen[key][0]}: keep one row.")
        seen[key] = (row_number, replacement)
        rules.append(RedactRule(dyad_id, term, replacement))
    return rules


def rules_for(rules: Iterable[RedactRule], dyad_id: str) -> list[RedactRule]:
    """The rules that apply to one dyad: its own, and those for every dyad it does not override."""
    rules = list(rules)
    own = {_fold(rule.term) for rule in rules if rule.dyad_id == dyad_id}
    return [rule for rule in rules if rule.dyad_id == dyad_id
            or (rule.dyad_id == ALL_DYADS and _fold(rule.term) not in own)]


def redact(text: str, rules: Sequence[RedactRule]) -> str:
    """Replace every term of the rules in one pass, longest term first."""
    if not rules:
        return text
    replacements = {_fold(rule.term): rule.replacement for rule in rules}
    pattern = _terms_pattern(rule.term for rule in rules)
    return pattern.sub(lambda match: replacements[_fold(match.group(0))], text)


def redact_turns(turns: Iterable[Turn], rules: Sequence[RedactRule]) -> list[Turn]:
    return [replace(turn, text=redact(turn.text, rules)) for turn in turns]


def remaining_terms(text: str, terms: Iterable[str | RedactRule],
                    identifiers: Iterable[str] = ()) -> list[str]:
    """Terms and identifiers still in the text (each once, in the order given).

    For rules, their replacements are blanked out first, so a replacement such as "[PROGRAM]"
    is not taken for the term "program".
    """
    terms = list(terms)
    rules = [term for term in terms if isinstance(term, RedactRule)]
    words = [t.term if isinstance(t, RedactRule) else str(t) for t in terms] + [
        str(identifier) for identifier in identifiers]
    for replacement in sorted({rule.replacement for rule in rules}, key=len, reverse=True):
        text = re.sub(re.escape(replacement), " ", text, flags=re.IGNORECASE)
    found: list[str] = []
    for word in words:
        word = " ".join(word.split())
        if word and word not in found and _terms_pattern([word]).search(text):
            found.append(word)
    return found


def review(turns: Sequence[Turn], common: frozenset[str] = COMMON_CAPITALISED
           ) -> list[ReviewItem]:
    """Capitalised words and phrases left that may be names or places.

    Neighbouring candidate words form one phrase ("Port Alden"). Words seen only at the start of
    a sentence come last, marked `sentence_start_only`: mostly ordinary words ("Proud, I
    think."), but a name can stand there too, so they are listed rather than dropped.
    """
    lower_case = {_fold(m.group(0)) for turn in turns for m in _WORD.finditer(turn.text)
                  if m.group(0)[0].islower()}
    found: dict[str, ReviewItem] = {}
    for number, turn in enumerate(turns, start=1):
        for phrase, start, end, initial in _candidates(turn.text, common, lower_case):
            key = _fold(phrase)
            item = found.get(key) or ReviewItem(phrase, 0, number, turn.line,
                                                _example(turn.text, start, end), True)
            found[key] = replace(item, count=item.count + 1,
                                 sentence_start_only=item.sentence_start_only and initial)
    return sorted(found.values(),
                  key=lambda item: (item.sentence_start_only, -item.count, item.word.casefold()))


def _candidates(text: str, common: frozenset[str], lower_case: set[str]
                ) -> Iterator[tuple[str, int, int, bool]]:
    """(phrase, start, end, at a sentence's start) for runs of candidate words in one text."""
    run: list[tuple[int, int, bool]] = []  # (start, end, possessive) of each word
    initial = False
    for match in _WORD.finditer(text):
        word = _POSSESSIVE.sub("", match.group(0))
        at_start = _sentence_start(text, match.start())
        candidate = bool(word) and word[0].isupper() and not (
            _fold(word) in common or _fold(match.group(0)) in common
            or _is_placeholder(text, match) or (at_start and _fold(word) in lower_case))
        joins = (candidate and run and not run[-1][2]
                 and text[run[-1][1]:match.start()] == " ")
        if run and not joins:
            yield text[run[0][0]:run[-1][1]], run[0][0], run[-1][1], initial
            run = []
        if candidate:
            if not run:
                initial = at_start
            run.append((match.start(), match.start() + len(word), word != match.group(0)))
    if run:
        yield text[run[0][0]:run[-1][1]], run[0][0], run[-1][1], initial


def _terms_pattern(terms: Iterable[str]) -> re.Pattern:
    parts = []
    for term in sorted({" ".join(t.split()) for t in terms}, key=len, reverse=True):
        escaped = re.escape(term).replace(r"\ ", r"\s+")
        parts.append(re.sub(r"['’]", "['’]", escaped))
    return re.compile(rf"(?<!\w)(?:{'|'.join(parts)})(?!\w)", re.IGNORECASE)


def _fold(text: str) -> str:
    return " ".join(text.replace("’", "'").split()).casefold()


def _is_placeholder(text: str, match: re.Match) -> bool:
    """A replacement such as [CHILD]: an upper-case word alone in square brackets."""
    return (match.group(0).isupper() and text[match.start() - 1:match.start()] == "["
            and text[match.end():match.end() + 1] == "]")


def _sentence_start(text: str, position: int) -> bool:
    before = text[:position].rstrip(" \t\"'“‘([")
    return not before or before[-1] in ".!?…:;\n"


def _example(text: str, start: int, end: int, width: int = 40) -> str:
    left = max(0, start - width)
    snippet = " ".join(text[left:end + width].split())
    return ("..." if left else "") + snippet + ("..." if end + width < len(text) else "")
