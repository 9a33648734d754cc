-- Editions with a lifecycle of their own (Windows LTSC), tried before a matcher's edition regex.
CREATE TABLE rule_edition_cases (
    matcher_id VARCHAR NOT NULL,
    ord INTEGER NOT NULL,
    regex VARCHAR NOT NULL,
    edition VARCHAR NOT NULL
);
COMMENT ON TABLE rule_edition_cases IS 'Edition cases of matchers (Windows LTSC editions), tried in order before the edition regex.';
COMMENT ON COLUMN rule_edition_cases.matcher_id IS 'Matcher id.';
COMMENT ON COLUMN rule_edition_cases.ord IS 'Order in which the cases are tried (first match wins).';
COMMENT ON COLUMN rule_edition_cases.regex IS 'Pattern the observed edition must match.';
COMMENT ON COLUMN rule_edition_cases.edition IS 'Replacement for {edition} in the mapped cycle when it matches.';
