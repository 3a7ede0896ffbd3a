# Ruby: hashes, strings, arrays, threads, GC, fork.
h = {}
200_000.times { |i| h["k#{i * 7919 % 100_003}"] = [i, i.to_s * (i % 7)] }
s = h.keys.sort.take(1000).join(",")
threads = 4.times.map do |t|
  Thread.new do
    a = []
    50_000.times { |i| a << { t: t, i: i, s: "x" * (i % 50) }; a.shift if a.size > 1000 }
    a.map { |e| e[:s].size }.sum
  end
end
sums = threads.map(&:value)
GC.start
pid = fork { x = (1..100_000).map(&:to_s).join; exit!(x.size % 256) }
Process.wait(pid)
r = "abc123def456" * 10_000
m = r.scan(/[a-z]+(\d+)/).size
puts [h.size, s.size, sums.sum, $?.exitstatus, m].inspect
