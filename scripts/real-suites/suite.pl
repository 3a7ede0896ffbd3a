use strict; use warnings;
my %h; for my $i (1..200000) { $h{"k$i"} = [$i, "v" x ($i % 50), {n => $i}]; }
my $s = 0; for my $k (sort keys %h) { $s += $h{$k}[0] + length $h{$k}[1]; }
print "sum $s\n";
my $str = join ",", map { "w$_" } 1..100000; my @w = split /,/, $str; print scalar(@w), "\n";
(my $t = $str) =~ s/w(\d+)/<$1>/g; print length($t), "\n";
delete @h{grep { /7/ } keys %h}; print scalar(keys %h), "\n";
my @pids; for my $c (1..4) { my $p = fork(); if (!$p) { my %x = map { $_ => "y" x $_ } 1..3000; my $n = 0; $n += length $x{$_} for keys %x; exit($n % 251 == 0 ? 0 : 3); } push @pids, $p; }
for (@pids) { waitpid $_, 0; print "child ", $? >> 8, "\n"; }
eval q{ use threads; use threads::shared; my @r :shared; my @t = map { my $i = $_; threads->create(sub { my %m; $m{$_} = [$_] for 1..20000; my $c = 0; $c += $_->[0] for values %m; push @r, $c; }) } 1..4; $_->join for @t; print "threads ", join(",", sort @r), "\n"; }; print $@ if $@;
