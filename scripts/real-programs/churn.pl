# Allocation-heavy Perl: hashes of strings, arrays, sort, join/split, regex substitution.
use strict; use warnings;
my $n = $ARGV[0] // 150000;
my $acc = 0;
for my $rnd (0..3) {
    my %h;
    for my $i (0..$n-1) {
        my $k = "key-" . (($i * 7919) % $n) . "-$rnd";
        $h{$k} = [uc($k), $i, "v" x ($i % 40)];
    }
    my @keys = sort keys %h;
    my $s = join(",", @keys[0..9999]);
    (my $t = $s) =~ s/key-(\d+)/K$1K/g;
    my @parts = split /,/, $t;
    $acc += scalar(@parts) + length($t);
    my %inv = map { $h{$_}[2] . $_ => 1 } @keys;
    $acc += scalar(keys %inv);
}
print "$acc\n";
