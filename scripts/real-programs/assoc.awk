# gawk associative arrays: count words and word pairs, join per-word lists, sort the keys.
{
    for (i = 1; i <= NF; i++) {
        count[$i]++
        if (i > 1) pair[$(i - 1) " " $i]++
        last[$i] = last[$i] substr($1, 1, 3)
        if (length(last[$i]) > 200) last[$i] = substr(last[$i], 100)
    }
}
END {
    n = asorti(count, keys)
    m = 0
    for (p in pair) if (pair[p] > 1) m++
    s = 0
    for (k in last) s += length(last[k])
    print n, m, s, keys[1], keys[n]
}
