package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// owner is a --chown value resolved to numbers; set is false without --chown.
type owner struct {
	uid, gid int
	set      bool
}

// copySpec turns a COPY or ADD into the content of its layer.
func (bl *builder) copySpec(s *stageState, in Instruction) (*layerSpec, error) {
	isAdd := in.Cmd == "ADD"
	var fromRef, chown, chmod string
	for _, f := range in.Flags {
		switch f.Name {
		case "from":
			fromRef = f.Value
		case "chown":
			chown = f.Value
		case "chmod":
			chmod = f.Value
		case "link":
		default:
			return nil, bl.errorf(in, "flag --%s is not supported (use --from, --chown, --chmod, --link)", f.Name)
		}
	}
	if strings.Contains(in.Rest, "<<") && !in.JSON {
		return nil, bl.errorf(in, "heredocs are not supported: put the content in a file of the build context and COPY it")
	}
	lx := s.lexer(bl.df.Escape)
	words := in.Args
	if !in.JSON {
		var err error
		if words, err = lx.words(in.Rest); err != nil {
			return nil, bl.errorf(in, "%v", err)
		}
	} else {
		for i, w := range words {
			v, err := lx.word(w)
			if err != nil {
				return nil, bl.errorf(in, "%v", err)
			}
			words[i] = v
		}
	}
	if len(words) < 2 {
		return nil, bl.errorf(in, "needs a source and a destination, as in %s app/ /app/", in.Cmd)
	}
	srcs, dest := words[:len(words)-1], words[len(words)-1]
	destDir := strings.HasSuffix(dest, "/") || dest == "." || dest == ".."
	if !path.IsAbs(dest) {
		dest = path.Join(orRoot(s.cf.Config.WorkingDir), dest)
	}
	dest = path.Clean(dest)
	multi := len(srcs) > 1
	for _, src := range srcs {
		if strings.ContainsAny(src, "*?[") {
			multi = true
		}
	}
	if multi && !destDir {
		return nil, bl.errorf(in, "with several sources or a wildcard the destination must be a directory ending in /, as in %s a b /app/", in.Cmd)
	}

	var mode int64 = -1
	if chmod != "" {
		m, err := strconv.ParseUint(chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return nil, bl.errorf(in, "--chmod=%s is not an octal mode such as 0755", chmod)
		}
		mode = int64(m)
	}
	var own owner
	if chown != "" {
		v, err := lx.word(chown)
		if err != nil {
			return nil, bl.errorf(in, "--chown: %v", err)
		}
		if own, err = bl.resolveOwner(s, v); err != nil {
			return nil, bl.errorf(in, "--chown=%s: %v", chown, err)
		}
	}

	var entries []fileEntry
	var err error
	if fromRef != "" {
		if fromRef, err = lx.word(fromRef); err != nil || fromRef == "" {
			return nil, bl.errorf(in, "--from=%s: %v", fromRef, err)
		}
		if isAdd {
			return nil, bl.errorf(in, "ADD --from is not supported: use COPY --from")
		}
		entries, err = bl.fromImage(s, in, fromRef, srcs, dest, destDir)
	} else {
		entries, err = bl.fromContext(in, isAdd, srcs, dest, destDir)
	}
	if err != nil {
		return nil, err
	}
	for i := range entries {
		e := &entries[i]
		if own.set {
			e.uid, e.gid = own.uid, own.gid
		}
		if mode >= 0 && e.typ != tar.TypeSymlink {
			e.mode = mode
		}
	}
	spec := &layerSpec{entries: entries, epoch: bl.epoch}
	spec.normalize()
	return spec, nil
}

// resolveOwner turns "user[:group]" (numbers or names from the stage's
// /etc/passwd and /etc/group) into numeric ids.
func (bl *builder) resolveOwner(s *stageState, v string) (owner, error) {
	user, group, hasGroup := strings.Cut(v, ":")
	o := owner{set: true}
	var passwd, groups map[string][2]int
	load := func() error {
		if passwd != nil {
			return nil
		}
		var err error
		passwd, groups, err = bl.accounts(s)
		return err
	}
	if n, err := strconv.Atoi(user); err == nil && n >= 0 {
		o.uid, o.gid = n, n
	} else {
		if err := load(); err != nil {
			return o, err
		}
		u, ok := passwd[user]
		if !ok {
			return o, fmt.Errorf("user %s is not in the image's /etc/passwd: use a numeric uid", user)
		}
		o.uid, o.gid = u[0], u[1]
	}
	if hasGroup {
		if n, err := strconv.Atoi(group); err == nil && n >= 0 {
			o.gid = n
		} else {
			if err := load(); err != nil {
				return o, err
			}
			g, ok := groups[group]
			if !ok {
				return o, fmt.Errorf("group %s is not in the image's /etc/group: use a numeric gid", group)
			}
			o.gid = g[0]
		}
	}
	return o, nil
}

// accounts reads /etc/passwd (name → uid, gid) and /etc/group (name → gid)
// from the stage's image so far.
func (bl *builder) accounts(s *stageState) (map[string][2]int, map[string][2]int, error) {
	img := s.res.img
	if len(s.adds) > 0 {
		var err error
		if img, err = mutate.Append(img, s.adds...); err != nil {
			return nil, nil, err
		}
	}
	files, err := readImageFiles(img, func(name string) bool { return name == "etc/passwd" || name == "etc/group" })
	if err != nil {
		return nil, nil, fmt.Errorf("read /etc/passwd: %w", err)
	}
	parse := func(data []byte, idCol, gidCol int) map[string][2]int {
		out := map[string][2]int{}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Split(sc.Text(), ":")
			if len(f) <= idCol || len(f) <= gidCol {
				continue
			}
			id, err1 := strconv.Atoi(f[idCol])
			gid, err2 := strconv.Atoi(f[gidCol])
			if err1 == nil && err2 == nil {
				out[f[0]] = [2]int{id, gid}
			}
		}
		return out
	}
	var passwd, group []byte
	for _, e := range files {
		switch e.name {
		case "etc/passwd":
			passwd = e.data
		case "etc/group":
			group = e.data
		}
	}
	return parse(passwd, 2, 3), parse(group, 2, 2), nil
}

// readImageFiles returns the entries of img's flattened filesystem whose
// name (relative, no leading slash) keep accepts, with their content.
func readImageFiles(img v1.Image, keep func(string) bool) ([]fileEntry, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []fileEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(strings.TrimPrefix(path.Clean("/"+h.Name), "/"), "/")
		if name == "" || !keep(name) {
			continue
		}
		e := fileEntry{name: name, mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid}
		switch h.Typeflag {
		case tar.TypeDir:
			e.typ = tar.TypeDir
		case tar.TypeSymlink:
			e.typ, e.link = tar.TypeSymlink, h.Linkname
		case tar.TypeReg, tar.TypeLink:
			// Hard links are copied as files, reading their target's content.
			if h.Typeflag == tar.TypeLink {
				target := strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
				for _, prev := range out {
					if prev.name == target {
						e.data, e.size = prev.data, prev.size
					}
				}
				e.typ = tar.TypeReg
				out = append(out, e)
				continue
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			e.typ, e.data, e.size = tar.TypeReg, data, int64(len(data))
		default:
			continue
		}
		out = append(out, e)
	}
}

// fromImage collects COPY --from sources out of an earlier stage or an image.
func (bl *builder) fromImage(s *stageState, in Instruction, ref string, srcs []string, dest string, destDir bool) ([]fileEntry, error) {
	var img v1.Image
	if j := bl.stageRef(ref, s.st.index); j >= 0 {
		img = bl.results[j].img
	} else {
		pulled, _, err := bl.pull(ref)
		if err != nil {
			return nil, bl.errorf(in, "--from=%s: no earlier stage has this name, and as an image: %v", ref, err)
		}
		img = pulled
	}
	var pats []string
	for _, src := range srcs {
		pats = append(pats, strings.TrimSuffix(strings.TrimPrefix(path.Clean("/"+src), "/"), "/"))
	}
	// Keep every entry a source names, is below, or is a wildcard match of.
	keep := func(name string) bool {
		for _, p := range pats {
			if p == "" || name == p || strings.HasPrefix(name, p+"/") {
				return true
			}
			if ok := matchPrefix(p, name); ok {
				return true
			}
		}
		return false
	}
	files, err := readImageFiles(img, keep)
	if err != nil {
		return nil, bl.errorf(in, "--from=%s: read files: %v", ref, err)
	}
	byName := map[string]fileEntry{}
	for _, f := range files {
		byName[f.name] = f
	}
	var out []fileEntry
	for i, p := range pats {
		var roots []string
		if strings.ContainsAny(p, "*?[") {
			for _, f := range files {
				if ok, _ := path.Match(p, f.name); ok {
					roots = append(roots, f.name)
				}
			}
		} else if _, ok := byName[p]; ok || p == "" {
			roots = []string{p}
		}
		if len(roots) == 0 {
			return nil, bl.errorf(in, "--from=%s: %s not found", ref, srcs[i])
		}
		slices.Sort(roots)
		for _, root := range roots {
			r, ok := byName[root]
			if ok && r.typ != tar.TypeDir {
				target := dest
				if destDir || len(roots) > 1 || len(pats) > 1 {
					target = path.Join(dest, path.Base(root))
				}
				r.name = strings.TrimPrefix(target, "/")
				out = append(out, r)
				continue
			}
			// A directory: copy what is below it into dest.
			for _, f := range files {
				if root != "" && !strings.HasPrefix(f.name, root+"/") {
					continue
				}
				rel := f.name
				if root != "" {
					rel = strings.TrimPrefix(f.name, root+"/")
				}
				f.name = strings.TrimPrefix(path.Join(dest, rel), "/")
				out = append(out, f)
			}
			if d := strings.TrimPrefix(dest, "/"); d != "" {
				dir := fileEntry{name: d, typ: tar.TypeDir, mode: 0o755}
				if ok {
					dir.mode, dir.uid, dir.gid = r.mode, r.uid, r.gid
				}
				out = append(out, dir)
			}
		}
	}
	return out, nil
}

// matchPrefix reports whether name or one of its parents matches the wildcard pattern p.
func matchPrefix(p, name string) bool {
	segs := strings.Split(name, "/")
	n := len(strings.Split(p, "/"))
	if n > len(segs) {
		return false
	}
	ok, _ := path.Match(p, strings.Join(segs[:n], "/"))
	return ok
}

// fromContext collects COPY/ADD sources out of the build context.
func (bl *builder) fromContext(in Instruction, isAdd bool, srcs []string, dest string, destDir bool) ([]fileEntry, error) {
	ctxDir, err := filepath.Abs(bl.b.Context)
	if err != nil {
		return nil, err
	}
	var out []fileEntry
	for _, src := range srcs {
		if isAdd && (strings.Contains(src, "://") || strings.HasPrefix(src, "git@")) {
			return nil, bl.errorf(in, "ADD of a URL (%s) is not supported: download the file in an earlier pipeline step and COPY it", src)
		}
		rel := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(src)), "/")
		if rel == "" {
			rel = "."
		}
		var roots []string
		if strings.ContainsAny(rel, "*?[") {
			matches, err := filepath.Glob(filepath.Join(ctxDir, filepath.FromSlash(rel)))
			if err != nil {
				return nil, bl.errorf(in, "pattern %s: %v", src, err)
			}
			for _, m := range matches {
				r, _ := filepath.Rel(ctxDir, m)
				if !bl.ignore.excluded(filepath.ToSlash(r)) {
					roots = append(roots, filepath.ToSlash(r))
				}
			}
			if len(roots) == 0 {
				return nil, bl.errorf(in, "no file of the build context %s matches %s", ctxDir, src)
			}
		} else {
			if bl.ignore.excluded(rel) && !bl.ignore.negations {
				return nil, bl.errorf(in, "%s is excluded by .dockerignore", src)
			}
			roots = []string{rel}
		}
		for _, root := range roots {
			full := filepath.Join(ctxDir, filepath.FromSlash(root))
			st, err := os.Stat(full)
			if err != nil {
				return nil, bl.errorf(in, "%s not found in the build context %s", root, ctxDir)
			}
			if !st.IsDir() {
				if bl.ignore.excluded(root) {
					return nil, bl.errorf(in, "%s is excluded by .dockerignore", root)
				}
				if isAdd {
					if entries, ok, err := extractArchive(full, dest); err != nil {
						return nil, bl.errorf(in, "extract %s: %v", root, err)
					} else if ok {
						out = append(out, entries...)
						continue
					}
				}
				target := dest
				if destDir || len(roots) > 1 || len(srcs) > 1 {
					target = path.Join(dest, path.Base(root))
				}
				out = append(out, fileEntry{name: strings.TrimPrefix(target, "/"), typ: tar.TypeReg,
					mode: int64(st.Mode().Perm()) | specialBits(st.Mode()), size: st.Size(), src: full})
				continue
			}
			entries, err := bl.walkContext(ctxDir, root, dest)
			if err != nil {
				return nil, bl.errorf(in, "%v", err)
			}
			if len(entries) == 0 && bl.ignore.excluded(root) {
				return nil, bl.errorf(in, "%s is excluded by .dockerignore", root)
			}
			out = append(out, entries...)
		}
	}
	return out, nil
}

func specialBits(m fs.FileMode) int64 {
	var b int64
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// walkContext lists the directory root of the context (its contents, not
// itself) as entries under dest, skipping what .dockerignore excludes.
func (bl *builder) walkContext(ctxDir, root, dest string) ([]fileEntry, error) {
	var out []fileEntry
	base := filepath.Join(ctxDir, filepath.FromSlash(root))
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		relCtx, _ := filepath.Rel(ctxDir, p)
		relCtx = filepath.ToSlash(relCtx)
		relSrc, _ := filepath.Rel(base, p)
		relSrc = filepath.ToSlash(relSrc)
		if bl.ignore.excluded(relCtx) {
			if d.IsDir() && !bl.ignore.negations {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Join(dest, relSrc), "/")
		if name == "" {
			return nil // copying into /: the root needs no entry
		}
		e := fileEntry{name: name, mode: int64(info.Mode().Perm()) | specialBits(info.Mode())}
		switch {
		case d.IsDir():
			e.typ = tar.TypeDir
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e.typ, e.link, e.mode = tar.TypeSymlink, link, 0o777
		case info.Mode().IsRegular():
			e.typ, e.size, e.src = tar.TypeReg, info.Size(), p
		default:
			return nil // sockets, devices and pipes are not copied
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	return out, nil
}

// extractArchive reads a local tar archive (plain, gzip or bzip2) as entries
// under dest; ok is false when file is not such an archive (ADD copies it then).
func extractArchive(file, dest string) ([]fileEntry, bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(512)
	var r io.Reader = br
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, false, nil
		}
		defer zr.Close()
		r = zr
	case bytes.HasPrefix(head, []byte("BZh")):
		r = bzip2.NewReader(br)
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return nil, false, errors.New("xz archives are not supported: use a .tar, .tar.gz or .tar.bz2")
	default:
		if len(head) < 262 || string(head[257:262]) != "ustar" {
			return nil, false, nil
		}
	}
	tr := tar.NewReader(r)
	var out []fileEntry
	for first := true; ; first = false {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if first {
				return nil, false, nil // compressed, but not a tar: copy as is
			}
			return nil, false, err
		}
		rel := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if rel == "" {
			continue
		}
		e := fileEntry{name: strings.TrimPrefix(path.Join(dest, rel), "/"), mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid}
		switch h.Typeflag {
		case tar.TypeDir:
			e.typ = tar.TypeDir
		case tar.TypeSymlink:
			e.typ, e.link = tar.TypeSymlink, h.Linkname
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, false, err
			}
			e.typ, e.data, e.size = tar.TypeReg, data, int64(len(data))
		default:
			continue
		}
		out = append(out, e)
	}
	return out, true, nil
}
