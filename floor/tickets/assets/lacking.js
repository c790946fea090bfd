// How many documents a citizen still lacks, when some are alternatives (以下二选一): of a choice of sub-items only
// one set is needed, so a choice counts the documents missing from the option that lacks the fewest. Materials
// come from the catalog (a bundle's materials, or a notice's): each may carry ``choice`` (an index into the
// bundle's choices, null when always needed) and ``options`` (the sub-items of that choice asking for it). The
// notice counts with this; the guide desk's checklist may too, so both say the same number.

/**
 * ``missing``: a Set of material numbers (1-based, a material's ``number`` or its place in the list). Returns
 * {count, always, choices}: the total lacking, those always needed that are missing, and per choice the missing
 * count of each option ({choice, options: {item: count}, fewest}).
 */
export function lacking(materials, missing) {
  const numberOf = (m, i) => m.number ?? i + 1;
  const always = materials.filter((m, i) => (m.choice ?? null) === null && missing.has(numberOf(m, i))).length;
  const choices = new Map();
  materials.forEach((m, i) => {
    if ((m.choice ?? null) === null) return;
    if (!choices.has(m.choice)) choices.set(m.choice, {});
    const options = choices.get(m.choice);
    for (const option of m.options) {
      options[option] = (options[option] ?? 0) + (missing.has(numberOf(m, i)) ? 1 : 0);
    }
  });
  const perChoice = [...choices].map(([choice, options]) => (
    { choice, options, fewest: Math.min(...Object.values(options)) }));
  return { count: always + perChoice.reduce((sum, c) => sum + c.fewest, 0), always, choices: perChoice };
}
