# tests/lab/biglab.awk: the big lab's topology, routes and truth, from a
# seed.  Run by tests/lab/biglab.sh (awk -f, no input) with -v prefix= dir=
# seed= routers= prefixes= realistic=; writes into dir:
#   netns.batch   "netns add" for every namespace (for ip -batch)
#   links.batch   the veth pairs, each end made in its namespace
#   sysctl.list   "NS ROLE" (router, silent, ecmp, vantage)
#   ns/NAME       the ip -batch commands of namespace PREFIX-NAME
#   topology.txt  the truth (see biglab.sh)
# Deterministic: the same seed gives the same lab (awk's srand/rand).
#
# Addresses, all in 198.18.0.0/15 (the vantage's only route):
#   link k (0 is v--r1): a /30 in 198.18.0.0/20, .1 parent side, .2 child
#   answering /24s: 198.18.16.0/24 onwards, then the dark ones after them.
# A router answers ICMP errors from its link to its first parent (its route
# back to the vantage), as in lab.sh.

function rnd(n) { return int(rand() * n) }
function laddr(k, s,  b) { b = 4 * k + s; return "198.18." int(b / 256) "." (b % 256) }
function lnet(k,  b) { b = 4 * k; return "198.18." int(b / 256) "." (b % 256) "/30" }
function p24(i,  b) { b = 16 + i; return "198." (18 + int(b / 256)) "." (b % 256) ".0/24" }

# add(parent, depth): a new router under parent (its first parent).
function add(p, d,  n) {
	n = ++nr
	name[n] = "r" n; depth[n] = d; npar[n] = 0; nch[n] = 0
	if (p) link(p, n)
	return n
}
# link(p, c): a veth pair, the next /30.
function link(p, c) {
	nl++
	lp[nl] = p; lc[nl] = c
	par[c, ++npar[c]] = p; parlink[c, npar[c]] = nl
	ch[p, ++nch[p]] = c; chlink[p, nch[p]] = nl
}
# diamond(p, w, len): p splits per flow over w branches of len routers
# that meet again at a new router, returned.
function diamond(p, w, len,  i, j, n, ends, m) {
	role[p] = "ecmp"
	for (i = 1; i <= w; i++) {
		n = p
		for (j = 1; j <= len; j++) n = add(n, depth[p] + j)
		ends[i] = n
	}
	m = add(ends[1], depth[p] + len + 1)
	for (i = 2; i <= w; i++) link(ends[i], m)
	return m
}

# paths(n): every path of reply addresses from r1 down to n ("*" silent),
# into the array out[1..k]; returns k.
function paths(n, out,  k, i, j, sub_, m, hop) {
	hop = (role[n] == "silent") ? "*" : addr[n]
	if (n == 1) { out[1] = hop; return 1 }
	k = 0
	for (i = 1; i <= npar[n]; i++) {
		delete sub_
		m = paths(par[n, i], sub_)
		for (j = 1; j <= m; j++) out[++k] = sub_[j] " " hop
	}
	return k
}

BEGIN {
	srand(seed)
	N = routers; P = prefixes
	D = int(P / 30); if (D < 2) D = 2
	# The shared core: r1, a two-way diamond, one more hop (depth 6).
	r1 = add(0, 1)
	last = diamond(add(r1, 2), 2, 2)
	last = add(last, depth[last] + 1)
	while (nr < N) {
		# Grow a chain half of the time (always until it is 8 deep, so
		# that no branch ends where no target can be), else branch
		# anywhere below the core and not too deep (paths 8 to 15 hops).
		if ((depth[last] < 8 || rand() < 0.55) && depth[last] < 15 &&
		    role[last] != "ecmp")
			p = last
		else {
			do p = 4 + rnd(nr - 3)
			while (depth[p] > 14 || role[p] == "ecmp" || nch[p] >= 4)
		}
		if (depth[p] <= 11 && rand() < 0.06 && nr + 7 <= N) {
			w = 2 + (rand() < 0.3); len = 1 + (rand() < 0.4)
			last = diamond(p, w, len)
		} else
			last = add(p, depth[p] + 1)
	}
	for (n = 1; n <= nr; n++)
		if (role[n] == "") role[n] = "router"
	# Silent routers: one in 25, below the core, never a split.
	for (n = 8; n <= nr; n++)
		if (role[n] == "router" && rand() < 0.04) role[n] = "silent"
	for (n = 1; n <= nr; n++)
		addr[n] = (n == 1) ? laddr(0, 2) : laddr(parlink[n, 1], 2)

	# The answering /24s: one on each childless router deep enough, in
	# a shuffled order, then the rest on any router at depth 8 or more.
	nc = 0
	for (n = 1; n <= nr; n++) if (depth[n] >= 8) cand[++nc] = n
	for (i = nc; i > 1; i--) { j = 1 + rnd(i); t = cand[i]; cand[i] = cand[j]; cand[j] = t }
	np = 0
	for (i = 1; i <= nc && np < P; i++)
		if (nch[cand[i]] == 0) { own24[++np] = cand[i] }
	while (np < P) own24[++np] = cand[1 + rnd(nc)]
	# Dark /24s: blackholed or unreachable at a router at depth 5 or more.
	for (i = 1; i <= D; i++) {
		do n = 1 + rnd(nr); while (depth[n] < 5)
		darknode[i] = n; darkkind[i] = (i % 2) ? "blackhole" : "unreachable"
	}

	# own[n]: the prefixes n routes itself; below: n's and its subtree's.
	for (i = 1; i <= np; i++) { x = p24(i - 1); ownkind[x] = "local"; owner[x] = own24[i]; pl[++npx] = x }
	for (i = 1; i <= D; i++) { x = p24(P + i - 1); ownkind[x] = darkkind[i]; owner[x] = darknode[i]; pl[++npx] = x }
	for (k = 1; k <= nl; k++) { x = lnet(k); ownkind[x] = "link"; owner[x] = lp[k]; pl[++npx] = x }
	for (i = 1; i <= npx; i++) {
		# Mark x below every ancestor of its owner (a DAG walk).
		delete seen; top = 0; stack[++top] = owner[pl[i]]
		while (top > 0) {
			n = stack[top--]
			if ((n, pl[i]) in below) continue
			below[n, pl[i]] = 1
			for (j = 1; j <= npar[n]; j++) stack[++top] = par[n, j]
		}
	}

	# The namespaces, the wires, the knobs.
	print "netns add " prefix "-v" > (dir "/netns.batch")
	print prefix "-v vantage" > (dir "/sysctl.list")
	for (n = 1; n <= nr; n++) {
		print "netns add " prefix "-" name[n] > (dir "/netns.batch")
		print prefix "-" name[n], role[n] > (dir "/sysctl.list")
	}
	print "link add to-r1 netns " prefix "-v type veth peer name to-v netns " prefix "-r1" > (dir "/links.batch")
	for (k = 1; k <= nl; k++)
		print "link add to-" name[lc[k]] " netns " prefix "-" name[lp[k]] \
		    " type veth peer name to-" name[lp[k]] " netns " prefix "-" name[lc[k]] > (dir "/links.batch")

	# The vantage: one route, into the lab.
	f = dir "/ns/v"
	print "addr add " laddr(0, 1) "/30 dev to-r1" > f
	print "link set lo up" > f
	print "link set to-r1 up" > f
	print "route add 198.18.0.0/15 via " laddr(0, 2) > f
	close(f)
	for (n = 1; n <= nr; n++) {
		f = dir "/ns/" name[n]
		print "link set lo up" > f
		if (n == 1) {
			print "addr add " laddr(0, 2) "/30 dev to-v" > f
			print "link set to-v up" > f
		}
		for (i = 1; i <= npar[n]; i++) {
			k = parlink[n, i]
			print "addr add " laddr(k, 2) "/30 dev to-" name[lp[k]] > f
			print "link set to-" name[lp[k]] " up" > f
		}
		for (i = 1; i <= nch[n]; i++) {
			k = chlink[n, i]
			print "addr add " laddr(k, 1) "/30 dev to-" name[lc[k]] > f
			print "link set to-" name[lc[k]] " up" > f
		}
		if (n > 1) print "route add 198.18.0.0/15 via " laddr(parlink[n, 1], 1) > f
		for (i = 1; i <= npx; i++) {
			x = pl[i]
			if (!((n, x) in below)) continue
			if (owner[x] == n) {
				if (ownkind[x] == "local") print "route add local " x " dev lo" > f
				else if (ownkind[x] != "link") print "route add " ownkind[x] " " x > f
				continue
			}
			hops = ""; nh = 0
			for (j = 1; j <= nch[n]; j++)
				if ((ch[n, j], x) in below) {
					hops = hops " nexthop via " laddr(chlink[n, j], 2); nh++
				}
			if (nh == 1) sub(/^ nexthop/, "", hops)
			print "route add " x hops > f
		}
		close(f)
	}

	# The truth.
	f = dir "/topology.txt"
	printf "# hopmap big lab, tests/lab/biglab.sh: seed %s, %d routers, %d answering /24s, %d dark, %s\n", \
	    seed, nr, P, D, (realistic ? "kernel ICMP limits kept" : "ICMP limits lifted") > f
	print "vantage v " laddr(0, 1) " ns=" prefix "-v" > f
	for (n = 1; n <= nr; n++) {
		ifs = (n == 1) ? laddr(0, 2) : ""
		for (i = 1; i <= npar[n]; i++) ifs = ifs (ifs == "" ? "" : ",") laddr(parlink[n, i], 2)
		for (i = 1; i <= nch[n]; i++) ifs = ifs "," laddr(chlink[n, i], 1)
		printf "router %s addr=%s ttl=%d ns=%s-%s ifaces=%s%s%s\n", name[n], addr[n], \
		    depth[n], prefix, name[n], ifs, (role[n] == "silent" ? " silent" : ""), \
		    (role[n] == "ecmp" ? " ecmp" : "") > f
	}
	for (i = 1; i <= npx; i++) {
		x = pl[i]; n = owner[x]
		if (ownkind[x] == "link") continue
		print (ownkind[x] == "local" ? "target" : ownkind[x]), x, "node=" name[n], "ttl=" depth[n] > f
		delete pp
		if (ownkind[x] == "local") {
			# The hops before the destination: the paths to its owner's
			# parents; the destination answers at the owner's depth.
			k = 0
			for (j = 1; j <= npar[n]; j++) {
				delete sub_
				m = paths(par[n, j], sub_)
				for (t = 1; t <= m; t++) pp[++k] = sub_[t]
			}
		} else
			k = paths(n, pp)
		for (t = 1; t <= k; t++) {
			print "path", x, pp[t] > f
			if (ownkind[x] != "local") continue
			m = split(pp[t], h, " ")
			for (j = 1; j < m; j++)
				if (h[j] != "*" && h[j + 1] != "*") truth[h[j] " " h[j + 1]] = 1
			if (h[m] != "*") lasthop[x " " h[m]] = 1
			for (j = 1; j <= m; j++) if (h[j] != "*") iface[h[j]] = 1
		}
	}
	# Only what a trace to an answering /24 can see; sorted, as the
	# order of "for (in)" is awk's own.
	close(f)
	for (l in lasthop) print "last", l | ("sort >>" f)
	close("sort >>" f)
	for (l in truth) print "link", l | ("sort -V >>" f)
	close("sort -V >>" f)
	for (a in iface) print "iface", a | ("sort -V >>" f)
	close("sort -V >>" f)
}
