/**
 * Line-aware error recovery: a CstParser base class that refines where Chevrotain resumes
 * after a syntax error.
 *
 * Chevrotain re-synchronises at the first token that may follow any rule on the stack. In
 * `.spk` a plain name may start a member (`fire = act`) or a statement (`u = x`), so after
 * an error in, say, a shape `[T, B, amplitude, d]` it would resume at `d` and read the rest
 * of the body as members: one typo, ten errors. Two refinements:
 *  - a "weak" token (a name) counts as a resynchronisation point only when it is the first
 *    token on its line, which is where members and statements start in practice;
 *  - while skipping, a bracketed group that opens ahead (`{ ... }` after a misspelled
 *    `forward`) is skipped whole, so its closing brace does not end the enclosing body.
 *    A "hard" token (a declaration keyword) always ends a skip, even inside a group.
 * Everything else is Chevrotain's algorithm.
 *
 * This overrides three recovery methods that are not part of Chevrotain's public typings
 * (`findReSyncTokenType`, `reSyncTo`, `tryInRepetitionRecovery`); they are re-implemented
 * after chevrotain 11.2.0 (`parse/parser/traits/recoverable.js`), the version package.json
 * pins. `test/grammar.recovery.test.ts` fails if an upgrade changes their contract.
 */
import { CstParser, EOF, MismatchedTokenException, tokenMatcher } from "chevrotain";
import type { IParserConfig, IParserErrorMessageProvider, IToken, TokenType } from "chevrotain";

/** The Chevrotain internals used below. */
interface ChevrotainInternals {
  flattenFollowSet(): TokenType[];
  exportLexerState(): number;
  importLexerState(state: number): void;
  getCurrRuleFullName(): string;
  SAVE_ERROR(error: Error): Error;
  readonly errorMessageProvider: IParserErrorMessageProvider;
}

export interface RecoveryTokens {
  /** Tokens that resume recovery only at the start of a line. */
  readonly weak: readonly TokenType[];
  /** Tokens that always stop skipping (never occur inside a bracketed group). */
  readonly hard: readonly TokenType[];
  readonly openers: readonly TokenType[];
  readonly closers: readonly TokenType[];
}

export abstract class LineAwareRecoveryParser extends CstParser {
  /** Start offsets of the tokens that are the first on their line; set before each parse. */
  lineStarts: ReadonlySet<number> = new Set();
  private readonly weak: ReadonlySet<TokenType>;
  private readonly hard: ReadonlySet<TokenType>;
  private readonly openers: ReadonlySet<TokenType>;
  private readonly closers: ReadonlySet<TokenType>;

  constructor(tokens: TokenType[], config: IParserConfig, recovery: RecoveryTokens) {
    super(tokens, config);
    this.weak = new Set(recovery.weak);
    this.hard = new Set(recovery.hard);
    this.openers = new Set(recovery.openers);
    this.closers = new Set(recovery.closers);
  }

  /**
   * How many tokens a skip at LA(k) passes over: 1, or a whole group when LA(k) opens one
   * (up to its matching closer, or up to a hard token or the end if it is never closed).
   */
  private skipWidth(k: number): number {
    if (!this.openers.has(this.LA(k).tokenType)) return 1;
    let depth = 0;
    for (let i = k; ; i++) {
      const t = this.LA(i).tokenType;
      if (t === EOF || (i > k && this.hard.has(t))) return i - k;
      if (this.openers.has(t)) depth++;
      else if (this.closers.has(t) && --depth === 0) return i - k + 1;
    }
  }

  /** Skips the token (or group) at LA(1); returns the new LA(1). */
  private skipAhead(): IToken {
    const width = this.skipWidth(1);
    let next = this.LA(1);
    for (let i = 0; i < width && next.tokenType !== EOF; i++) next = this.SKIP_TOKEN();
    return next;
  }

  private get internals(): ChevrotainInternals {
    return this as unknown as ChevrotainInternals;
  }

  /** Whether recovery may resume at `token`. */
  private isResyncPoint(token: IToken): boolean {
    return token.tokenType === EOF || !this.weak.has(token.tokenType) || this.lineStarts.has(token.startOffset);
  }

  /** The type of the first resynchronisation point ahead that may follow a rule on the stack. */
  findReSyncTokenType(): TokenType {
    const follows = this.internals.flattenFollowSet();
    for (let k = 1; ; k += this.skipWidth(k)) {
      const token = this.LA(k);
      if (this.isResyncPoint(token)) {
        const match = follows.find((t) => tokenMatcher(token, t));
        if (match !== undefined) return match;
      }
      if (token.tokenType === EOF) return EOF;
    }
  }

  /** Skips to the first resynchronisation point of type `tokType` (never past the end). */
  reSyncTo(tokType: TokenType): IToken[] {
    const skipped: IToken[] = [];
    let next = this.LA(1);
    while (!(tokenMatcher(next, tokType) && this.isResyncPoint(next)) && next.tokenType !== EOF) {
      next = this.skipAhead();
      if (next.tokenType !== EOF) skipped.push(next);
    }
    return skipped.slice(0, -1);
  }

  /**
   * After a repetition (members, statements, declarations) stops at an unexpected token:
   * skip tokens until the one expected after the repetition, or a resynchronisation point
   * where a new iteration can start, and report the skipped token once.
   */
  tryInRepetitionRecovery(
    grammarRule: (...args: unknown[]) => unknown,
    grammarRuleArgs: unknown[],
    lookAheadFunc: () => boolean,
    expectedTokType: TokenType,
  ): void {
    const internals = this.internals;
    const reSyncTokType = this.findReSyncTokenType();
    const savedLexerState = internals.exportLexerState();
    const firstSkipped = this.LA(1);
    let current = firstSkipped;
    const report = (): void => {
      const previous = this.LA(0);
      const message = internals.errorMessageProvider.buildMismatchTokenMessage({
        expected: expectedTokType,
        actual: firstSkipped,
        previous,
        ruleName: internals.getCurrRuleFullName(),
      });
      internals.SAVE_ERROR(new MismatchedTokenException(message, firstSkipped, previous));
    };
    for (;;) {
      if (tokenMatcher(current, expectedTokType)) {
        report();
        return;
      }
      if (this.isResyncPoint(current) && lookAheadFunc.call(this)) {
        report();
        grammarRule.apply(this, grammarRuleArgs);
        return;
      }
      if (current.tokenType === EOF || (tokenMatcher(current, reSyncTokType) && this.isResyncPoint(current))) break;
      current = this.skipAhead();
    }
    // No closer point to resume inside the repetition: let rule-level recovery handle it.
    internals.importLexerState(savedLexerState);
  }
}
