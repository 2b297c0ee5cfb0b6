package gates

import "strings"

// Suggest returns the candidate closest to word by edit distance, for "did
// you mean" hints, or "" when nothing is close enough to be a plausible typo.
// Comparison ignores case, so "Estimate" suggests "estimate". On a tie the
// earlier candidate wins, which lets callers order candidates by preference.
func Suggest(word string, candidates []string) string {
	w := strings.ToLower(word)
	if w == "" {
		return ""
	}
	best, bestDist := "", -1
	for _, c := range candidates {
		if c == word {
			// An exact match is not a typo; nothing to suggest.
			return ""
		}
		d := distance(w, strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > threshold(w, best) {
		return ""
	}
	return best
}

// threshold allows one edit in short words and up to a third of the length in
// longer ones: "dat" finds "date" and "too" finds "to", but "id" does not
// find "db".
func threshold(word, candidate string) int {
	n := len([]rune(word))
	if m := len([]rune(candidate)); m > n {
		n = m
	}
	switch {
	case n <= 2:
		return 0
	case n <= 5:
		return 1
	default:
		return max(2, n/3)
	}
}

// distance is the optimal string alignment distance: Levenshtein plus adjacent
// transpositions, the commonest typo ("estiamte").
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
