/**
 * The `.spk` grammar as a Chevrotain CstParser with error recovery.
 *
 * This module owns the shape of the concrete syntax tree and nothing else: no semantics, no
 * AST, no messages (those live in `messages.ts`), no recovery tuning (`recovery.ts`). Labels name every child that `cst-to-ast.ts`
 * reads; children that must keep their relative order (operands and operators, postfix
 * suffixes, members) share one label so Chevrotain stores them in source order.
 */
import type { TokenType } from "chevrotain";
import { spkErrorMessages } from "./messages.js";
import { LineAwareRecoveryParser } from "./recovery.js";
import {
  allTokens,
  Amplitude,
  Arrow,
  At,
  Colon,
  Comma,
  Const,
  Dot,
  Ellipsis,
  Emit,
  Equals,
  F32,
  False,
  Forward,
  Ident,
  Import,
  Int,
  LBrace,
  LBracket,
  Layer,
  Let,
  LParen,
  Minus,
  Model,
  Neuron,
  NumberLit,
  Plus,
  RBrace,
  RBracket,
  Repeat,
  Return,
  RParen,
  Semi,
  Slash,
  Star,
  State,
  Step,
  StringLit,
  Timesteps,
  True,
  Weight,
} from "./tokens.js";

export class SpkParser extends LineAwareRecoveryParser {
  /**
   * `validate`: run chevrotain's grammar validations (ambiguities, left recursion) while
   * building the parser. They check the grammar, not a document, and halve the cost of the
   * first parse of every process (the parser is built then); a test runs them instead
   * (test/grammar.parser-validation.test.ts).
   */
  constructor(opts: { readonly validate?: boolean } = {}) {
    super(
      allTokens as TokenType[],
      { recoveryEnabled: true, maxLookahead: 3, errorMessageProvider: spkErrorMessages, skipValidations: opts.validate !== true },
      {
        weak: [Ident], // a name resumes recovery only at the start of a line (see recovery.ts)
        hard: [Import, Const, Neuron, Layer, Model],
        openers: [LParen, LBracket, LBrace],
        closers: [RParen, RBracket, RBrace],
      },
    );
    this.performSelfAnalysis();
  }

  // -------------------------------------------------------------------------------------
  // File and declarations

  readonly file = this.RULE("file", () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.importDecl, { LABEL: "item" }) },
        { ALT: () => this.SUBRULE(this.constDecl, { LABEL: "item" }) },
        { ALT: () => this.SUBRULE(this.neuronDecl, { LABEL: "item" }) },
        { ALT: () => this.SUBRULE(this.moduleDecl, { LABEL: "item" }) },
      ]);
    });
  });

  readonly importDecl = this.RULE("importDecl", () => {
    this.CONSUME(Import, { LABEL: "kw" });
    this.CONSUME(StringLit, { LABEL: "path" });
    this.OPTION(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  readonly constDecl = this.RULE("constDecl", () => {
    this.CONSUME(Const, { LABEL: "kw" });
    this.CONSUME(Ident, { LABEL: "name" });
    this.CONSUME(Equals, { LABEL: "eq" });
    this.SUBRULE(this.expression, { LABEL: "value" });
    this.OPTION(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  readonly neuronDecl = this.RULE("neuronDecl", () => {
    this.CONSUME(Neuron, { LABEL: "kw" });
    this.CONSUME(Ident, { LABEL: "name" });
    this.OPTION(() => this.SUBRULE(this.params, { LABEL: "params" }));
    this.CONSUME(LBrace, { LABEL: "lbrace" });
    this.MANY(() => this.SUBRULE(this.neuronMember, { LABEL: "member" }));
    this.CONSUME(RBrace, { LABEL: "rbrace" });
    this.OPTION2(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  readonly moduleDecl = this.RULE("moduleDecl", () => {
    this.OR([
      { ALT: () => this.CONSUME(Layer, { LABEL: "kw" }) },
      { ALT: () => this.CONSUME(Model, { LABEL: "kw" }) },
    ]);
    this.CONSUME(Ident, { LABEL: "name" });
    this.OPTION(() => this.SUBRULE(this.params, { LABEL: "params" }));
    this.CONSUME(LBrace, { LABEL: "lbrace" });
    this.MANY(() => this.SUBRULE(this.moduleMember, { LABEL: "member" }));
    this.CONSUME(RBrace, { LABEL: "rbrace" });
    this.OPTION2(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  /** `(tau = 0.5, vth)` */
  readonly params = this.RULE("params", () => {
    this.CONSUME(LParen, { LABEL: "lparen" });
    this.OPTION(() => {
      this.SUBRULE(this.param, { LABEL: "param" });
      this.MANY(() => {
        this.CONSUME(Comma);
        this.SUBRULE2(this.param, { LABEL: "param" });
      });
      this.OPTION2(() => this.CONSUME2(Comma));
    });
    this.CONSUME(RParen, { LABEL: "rparen" });
  });

  readonly param = this.RULE("param", () => {
    this.CONSUME(Ident, { LABEL: "name" });
    this.OPTION(() => {
      this.CONSUME(Equals, { LABEL: "eq" });
      this.SUBRULE(this.expression, { LABEL: "default" });
    });
  });

  /** `(x: [T, B, L, d], y)` */
  readonly typedParams = this.RULE("typedParams", () => {
    this.CONSUME(LParen, { LABEL: "lparen" });
    this.OPTION(() => {
      this.SUBRULE(this.typedParam, { LABEL: "param" });
      this.MANY(() => {
        this.CONSUME(Comma);
        this.SUBRULE2(this.typedParam, { LABEL: "param" });
      });
      this.OPTION2(() => this.CONSUME2(Comma));
    });
    this.CONSUME(RParen, { LABEL: "rparen" });
  });

  readonly typedParam = this.RULE("typedParam", () => {
    this.CONSUME(Ident, { LABEL: "name" });
    this.OPTION(() => {
      this.CONSUME(Colon, { LABEL: "colon" });
      this.SUBRULE(this.type, { LABEL: "type" });
    });
  });

  // -------------------------------------------------------------------------------------
  // Neuron members

  readonly neuronMember = this.RULE("neuronMember", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.stateDecl, { LABEL: "decl" }) },
      { ALT: () => this.SUBRULE(this.amplitudeDecl, { LABEL: "decl" }) },
      { ALT: () => this.SUBRULE(this.stepDecl, { LABEL: "decl" }) },
    ]);
  });

  readonly stateDecl = this.RULE("stateDecl", () => {
    this.CONSUME(State, { LABEL: "kw" });
    this.CONSUME(Ident, { LABEL: "name" });
    this.CONSUME(Equals, { LABEL: "eq" });
    this.SUBRULE(this.expression, { LABEL: "value" });
    this.OPTION(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  readonly amplitudeDecl = this.RULE("amplitudeDecl", () => {
    this.CONSUME(Amplitude, { LABEL: "kw" });
    this.CONSUME(Ident, { LABEL: "name" });
    this.CONSUME(LBracket, { LABEL: "lbracket" });
    this.CONSUME2(Ident, { LABEL: "axis" });
    this.CONSUME(RBracket, { LABEL: "rbracket" });
    this.CONSUME(Equals, { LABEL: "eq" });
    this.SUBRULE(this.expression, { LABEL: "value" });
    this.OPTION(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  readonly stepDecl = this.RULE("stepDecl", () => {
    this.CONSUME(Step, { LABEL: "kw" });
    this.SUBRULE(this.typedParams, { LABEL: "params" });
    this.SUBRULE(this.block, { LABEL: "body" });
    this.OPTION(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  // -------------------------------------------------------------------------------------
  // Layer and model members

  readonly moduleMember = this.RULE("moduleMember", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.weightDecl, { LABEL: "decl" }) },
      { ALT: () => this.SUBRULE(this.timestepsDecl, { LABEL: "decl" }) },
      { ALT: () => this.SUBRULE(this.forwardDecl, { LABEL: "decl" }) },
      { ALT: () => this.SUBRULE(this.fieldDecl, { LABEL: "decl" }) },
    ]);
  });

  readonly weightDecl = this.RULE("weightDecl", () => {
    this.CONSUME(Weight, { LABEL: "kw" });
    this.CONSUME(Ident, { LABEL: "name" });
    this.CONSUME(Colon, { LABEL: "colon" });
    this.SUBRULE(this.type, { LABEL: "type" });
    this.OPTION(() => {
      this.CONSUME(Equals, { LABEL: "eq" });
      this.SUBRULE(this.expression, { LABEL: "value" });
    });
    this.OPTION2(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  readonly timestepsDecl = this.RULE("timestepsDecl", () => {
    this.CONSUME(Timesteps, { LABEL: "kw" });
    this.CONSUME(Ident, { LABEL: "name" });
    this.CONSUME(Equals, { LABEL: "eq" });
    this.SUBRULE(this.expression, { LABEL: "value" });
    this.OPTION(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  readonly forwardDecl = this.RULE("forwardDecl", () => {
    this.CONSUME(Forward, { LABEL: "kw" });
    this.SUBRULE(this.typedParams, { LABEL: "params" });
    this.OPTION(() => {
      this.CONSUME(Arrow, { LABEL: "arrow" });
      this.SUBRULE(this.type, { LABEL: "result" });
    });
    this.SUBRULE(this.block, { LABEL: "body" });
    this.OPTION2(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  readonly fieldDecl = this.RULE("fieldDecl", () => {
    this.CONSUME(Ident, { LABEL: "name" });
    this.CONSUME(Equals, { LABEL: "eq" });
    this.SUBRULE(this.expression, { LABEL: "value" });
    this.OPTION(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  // -------------------------------------------------------------------------------------
  // Types

  /** `f32[T, B, L, d]`, `int[B, L]`, `[out, inp]`, `[..., d]` */
  readonly type = this.RULE("type", () => {
    this.OPTION(() => {
      this.OR([
        { ALT: () => this.CONSUME(F32, { LABEL: "dtype" }) },
        { ALT: () => this.CONSUME(Int, { LABEL: "dtype" }) },
      ]);
    });
    this.CONSUME(LBracket, { LABEL: "lbracket" });
    this.OPTION2(() => {
      this.SUBRULE(this.dim, { LABEL: "dim" });
      this.MANY(() => {
        this.CONSUME(Comma);
        this.SUBRULE2(this.dim, { LABEL: "dim" });
      });
      this.OPTION3(() => this.CONSUME2(Comma));
    });
    this.CONSUME(RBracket, { LABEL: "rbracket" });
  });

  readonly dim = this.RULE("dim", () => {
    this.OR([
      { ALT: () => this.CONSUME(Ellipsis, { LABEL: "ellipsis" }) },
      { ALT: () => this.SUBRULE(this.expression, { LABEL: "value" }) },
    ]);
  });

  // -------------------------------------------------------------------------------------
  // Statements

  readonly block = this.RULE("block", () => {
    this.CONSUME(LBrace, { LABEL: "lbrace" });
    this.MANY(() => this.SUBRULE(this.stmt, { LABEL: "stmt" }));
    this.CONSUME(RBrace, { LABEL: "rbrace" });
  });

  readonly stmt = this.RULE("stmt", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.letStmt, { LABEL: "stmt" }) },
      { ALT: () => this.SUBRULE(this.emitStmt, { LABEL: "stmt" }) },
      { ALT: () => this.SUBRULE(this.returnStmt, { LABEL: "stmt" }) },
      { ALT: () => this.SUBRULE(this.assignStmt, { LABEL: "stmt" }) },
    ]);
  });

  readonly letStmt = this.RULE("letStmt", () => {
    this.CONSUME(Let, { LABEL: "kw" });
    this.CONSUME(Ident, { LABEL: "name" });
    this.CONSUME(Equals, { LABEL: "eq" });
    this.SUBRULE(this.expression, { LABEL: "value" });
    this.OPTION(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  readonly emitStmt = this.RULE("emitStmt", () => {
    this.CONSUME(Emit, { LABEL: "kw" });
    this.SUBRULE(this.expression, { LABEL: "value" });
    this.OPTION(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  readonly returnStmt = this.RULE("returnStmt", () => {
    this.CONSUME(Return, { LABEL: "kw" });
    this.SUBRULE(this.expression, { LABEL: "value" });
    this.OPTION(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  /** `u = ...`; `word.table = ...` parses so the checker can say why it is refused. */
  readonly assignStmt = this.RULE("assignStmt", () => {
    this.CONSUME(Ident, { LABEL: "name" });
    this.MANY(() => {
      this.CONSUME(Dot, { LABEL: "dot" });
      this.CONSUME2(Ident, { LABEL: "member" });
    });
    this.CONSUME(Equals, { LABEL: "eq" });
    this.SUBRULE(this.expression, { LABEL: "value" });
    this.OPTION(() => this.CONSUME(Semi, { LABEL: "semi" }));
  });

  // -------------------------------------------------------------------------------------
  // Expressions, lowest precedence first

  /** `+ -`, left-associative. */
  readonly expression = this.RULE("expression", () => {
    this.SUBRULE(this.term, { LABEL: "operand" });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(Plus, { LABEL: "op" }) },
        { ALT: () => this.CONSUME(Minus, { LABEL: "op" }) },
      ]);
      this.SUBRULE2(this.term, { LABEL: "operand" });
    });
  });

  /** `* / @`, one level, left-associative. */
  readonly term = this.RULE("term", () => {
    this.SUBRULE(this.unary, { LABEL: "operand" });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(Star, { LABEL: "op" }) },
        { ALT: () => this.CONSUME(Slash, { LABEL: "op" }) },
        { ALT: () => this.CONSUME(At, { LABEL: "op" }) },
      ]);
      this.SUBRULE2(this.unary, { LABEL: "operand" });
    });
  });

  readonly unary = this.RULE("unary", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(Minus, { LABEL: "minus" });
          this.SUBRULE(this.unary, { LABEL: "operand" });
        },
      },
      { ALT: () => this.SUBRULE(this.postfix, { LABEL: "postfix" }) },
    ]);
  });

  /** A primary followed by any chain of calls `(...)`, indexings `[...]` and members `.name`. */
  readonly postfix = this.RULE("postfix", () => {
    this.SUBRULE(this.primary, { LABEL: "primary" });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.callArgs, { LABEL: "suffix" }) },
        { ALT: () => this.SUBRULE(this.indexArgs, { LABEL: "suffix" }) },
        { ALT: () => this.SUBRULE(this.memberAccess, { LABEL: "suffix" }) },
      ]);
    });
  });

  /** `.table` in `word.table`. */
  readonly memberAccess = this.RULE("memberAccess", () => {
    this.CONSUME(Dot, { LABEL: "dot" });
    this.CONSUME(Ident, { LABEL: "name" });
  });

  readonly callArgs = this.RULE("callArgs", () => {
    this.CONSUME(LParen, { LABEL: "lparen" });
    this.OPTION(() => {
      this.SUBRULE(this.arg, { LABEL: "arg" });
      this.MANY(() => {
        this.CONSUME(Comma);
        this.SUBRULE2(this.arg, { LABEL: "arg" });
      });
      this.OPTION2(() => this.CONSUME2(Comma));
    });
    this.CONSUME(RParen, { LABEL: "rparen" });
  });

  /** `causal = true` (named: `name =` decided by two tokens of lookahead) or an expression. */
  readonly arg = this.RULE("arg", () => {
    this.OR([
      {
        GATE: () => this.LA(2).tokenType === Equals,
        ALT: () => {
          this.CONSUME(Ident, { LABEL: "name" });
          this.CONSUME(Equals, { LABEL: "eq" });
          this.SUBRULE(this.expression, { LABEL: "value" });
        },
      },
      { ALT: () => this.SUBRULE2(this.expression, { LABEL: "value" }) },
    ]);
  });

  readonly indexArgs = this.RULE("indexArgs", () => {
    this.CONSUME(LBracket, { LABEL: "lbracket" });
    this.SUBRULE(this.indexItem, { LABEL: "item" });
    this.MANY(() => {
      this.CONSUME(Comma);
      this.SUBRULE2(this.indexItem, { LABEL: "item" });
    });
    this.OPTION(() => this.CONSUME2(Comma));
    this.CONSUME(RBracket, { LABEL: "rbracket" });
  });

  /** An index expression, or a slice `start? : end?`. */
  readonly indexItem = this.RULE("indexItem", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(Colon, { LABEL: "colon" });
          this.OPTION(() => this.SUBRULE(this.expression, { LABEL: "end" }));
        },
      },
      {
        ALT: () => {
          this.SUBRULE2(this.expression, { LABEL: "start" });
          this.OPTION2(() => {
            this.CONSUME2(Colon, { LABEL: "colon" });
            this.OPTION3(() => this.SUBRULE3(this.expression, { LABEL: "end" }));
          });
        },
      },
    ]);
  });

  readonly primary = this.RULE("primary", () => {
    this.OR([
      { ALT: () => this.CONSUME(NumberLit, { LABEL: "number" }) },
      { ALT: () => this.CONSUME(StringLit, { LABEL: "string" }) },
      { ALT: () => this.CONSUME(True, { LABEL: "bool" }) },
      { ALT: () => this.CONSUME(False, { LABEL: "bool" }) },
      { ALT: () => this.CONSUME(Ident, { LABEL: "name" }) },
      {
        ALT: () => {
          this.CONSUME(LParen, { LABEL: "lparen" });
          this.SUBRULE(this.expression, { LABEL: "inner" });
          this.CONSUME(RParen, { LABEL: "rparen" });
        },
      },
      { ALT: () => this.SUBRULE(this.repeatExpr, { LABEL: "repeat" }) },
    ]);
  });

  /** `repeat depth { SpikeBlock(d, heads, ffn) }`; the count is a postfix expression. */
  readonly repeatExpr = this.RULE("repeatExpr", () => {
    this.CONSUME(Repeat, { LABEL: "kw" });
    this.SUBRULE(this.postfix, { LABEL: "count" });
    this.CONSUME(LBrace, { LABEL: "lbrace" });
    this.SUBRULE(this.expression, { LABEL: "body" });
    this.CONSUME(RBrace, { LABEL: "rbrace" });
  });
}
