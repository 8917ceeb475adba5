package gen

import (
	"fmt"
	"go/token"
	"strings"

	"github.com/dave/jennifer/jen"
)

// agentFile builds the file of short methods on the Agent type.
func (g *generator) agentFile(ac *AgentConfig) (*jen.File, error) {
	f := jen.NewFilePathName(ac.PkgPath, ac.PkgName)
	f.HeaderComment(Header)
	f.HeaderComment("Source: the method list given to lexgen; each method sends a generated call through the receiver.")
	seen := map[string]bool{}
	for _, m := range ac.Methods {
		if !token.IsIdentifier(m.Name) || !token.IsExported(m.Name) || seen[m.Name] {
			return nil, fmt.Errorf("gen: agent method %q: not an exported identifier, or listed twice", m.Name)
		}
		seen[m.Name] = true
		sig, ok := g.endpoints[m.NSID]
		if !ok {
			return nil, fmt.Errorf("gen: agent method %s: %s is not a generated query or procedure", m.Name, m.NSID)
		}
		if err := g.agentMethod(f, ac, m, sig); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (g *generator) agentMethod(f *jen.File, ac *AgentConfig, m AgentMethod, sig *endpointSig) error {
	pkg := sig.pkgPath[strings.LastIndex(sig.pkgPath, "/")+1:]
	call := jen.Qual(sig.pkgPath, sig.name)
	args := []jen.Code{jen.Id("ctx").Qual("context", "Context")}
	callArgs := []jen.Code{jen.Id("ctx"), jen.Id("a")}
	for _, p := range sig.params {
		if p.required {
			args = append(args, jen.Id(argName(p.json)).Add(paramType(p)))
			callArgs = append(callArgs, jen.Id(argName(p.json)))
		}
	}
	switch {
	case sig.in.binary:
		args = append(args, jen.Id("body").Qual("io", "Reader"))
		callArgs = append(callArgs, jen.Id("body"))
		if strings.ContainsAny(sig.in.enc, "*,") {
			args = append(args, jen.Id("contentType").String())
			callArgs = append(callArgs, jen.Id("contentType"))
		}
	case !sig.in.none:
		args = append(args, jen.Id("input").Add(sig.in.t.base()))
		callArgs = append(callArgs, jen.Id("input"))
	}
	var pre []jen.Code
	if sig.hasParams {
		args = append(args, jen.Id("params").Op("...").Op("*").Qual(sig.pkgPath, sig.name+"Params"))
		pre = append(pre,
			jen.Var().Id("p").Op("*").Qual(sig.pkgPath, sig.name+"Params"),
			jen.If(jen.Len(jen.Id("params")).Op(">").Lit(0)).Block(jen.Id("p").Op("=").Id("params").Index(jen.Lit(0))),
		)
		callArgs = append(callArgs, jen.Id("p"))
	}
	recv := jen.Id("a").Op("*").Id(ac.Type)
	ref := fmt.Sprintf("[%s.%s]", pkg, sig.name)

	if m.Items != "" {
		if !sig.pages {
			return fmt.Errorf("gen: agent method %s: %s is not cursor-paginated", m.Name, m.NSID)
		}
		var items *field
		for _, of := range sig.outFields {
			if of.json == m.Items {
				items = of
			}
		}
		if items == nil {
			return fmt.Errorf("gen: agent method %s: %s's output has no array %q", m.Name, m.NSID, m.Items)
		}
		elem := items.t.elem.base()
		pagesArgs := append([]jen.Code{}, callArgs...)
		for _, l := range strings.Split(wrap(fmt.Sprintf("%s iterates over the %s of every page of %s (%s), following cursors; params, at most one, may be nil. An error ends the iteration.", m.Name, m.Items, m.NSID, ref)), "\n") {
			f.Comment(l)
		}
		body := append(pre, jen.Return(jen.Func().Params(jen.Id("yield").Func().Params(elem, jen.Error()).Bool()).Block(
			jen.For(jen.List(jen.Id("page"), jen.Err()).Op(":=").Range().Qual(sig.pkgPath, sig.name+"Pages").Call(pagesArgs...)).Block(
				jen.If(jen.Err().Op("!=").Nil()).Block(jen.Id("yield").Call(jen.Nil(), jen.Err()), jen.Return()),
				jen.For(jen.List(jen.Id("_"), jen.Id("item")).Op(":=").Range().Id("page").Dot(items.goName)).Block(
					jen.If(jen.Op("!").Id("yield").Call(jen.Id("item"), jen.Nil())).Block(jen.Return()),
				),
			),
		)))
		f.Func().Params(recv).Id(m.Name).Params(args...).Qual("iter", "Seq2").Types(items.t.elem.base(), jen.Error()).Block(body...)
		f.Line()
		return nil
	}

	var results []jen.Code
	switch {
	case sig.out.binary:
		results = []jen.Code{jen.Op("*").Add(lexQual("Stream")), jen.Error()}
	case sig.out.none:
		results = []jen.Code{jen.Error()}
	default:
		results = []jen.Code{sig.out.t.base(), jen.Error()}
	}
	kind := "query"
	if sig.procedure {
		kind = "procedure"
	}
	text := fmt.Sprintf("%s calls the %s %s through the agent: see %s.", m.Name, kind, m.NSID, ref)
	if sig.hasParams {
		text += " params, at most one, may be nil."
	}
	for _, l := range strings.Split(wrap(text), "\n") {
		f.Comment(l)
	}
	body := append(pre, jen.Return(call.Call(callArgs...)))
	f.Func().Params(recv).Id(m.Name).Params(args...).Params(results...).Block(body...)
	f.Line()
	return nil
}
