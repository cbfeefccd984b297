/**
 * The sandbox processor's test instruments, the same numbers and ids as Stripe's test mode, so
 * code written against Stripe test mode behaves the same here.
 */

export type CardOutcome =
  | 'succeeds'
  | 'generic_decline'
  | 'insufficient_funds'
  | 'lost_card'
  | 'expired_card'
  | 'incorrect_cvc'
  | 'processing_error'
  | 'authentication_required';

export interface TestCard {
  brand: 'visa' | 'mastercard' | 'amex' | 'discover';
  last4: string;
  outcome: CardOutcome;
}

const card = (brand: TestCard['brand'], number: string, outcome: CardOutcome): [string, TestCard] => [number, { brand, last4: number.slice(-4), outcome }];

export const TEST_CARD_NUMBERS: ReadonlyMap<string, TestCard> = new Map([
  card('visa', '4242424242424242', 'succeeds'),
  card('visa', '4000056655665556', 'succeeds'),
  card('mastercard', '5555555555554444', 'succeeds'),
  card('amex', '378282246310005', 'succeeds'),
  card('discover', '6011111111111117', 'succeeds'),
  card('visa', '4000000000000002', 'generic_decline'),
  card('visa', '4000000000009995', 'insufficient_funds'),
  card('visa', '4000000000009987', 'lost_card'),
  card('visa', '4000000000000069', 'expired_card'),
  card('visa', '4000000000000127', 'incorrect_cvc'),
  card('visa', '4000000000000119', 'processing_error'),
  card('visa', '4000002500003155', 'authentication_required'),
  card('visa', '4000002760003184', 'authentication_required'),
  card('visa', '4000000000003220', 'authentication_required'),
]);

/** Stripe's test PaymentMethod ids, usable directly as paymentMethodId. */
export const TEST_PAYMENT_METHOD_IDS: ReadonlyMap<string, TestCard> = new Map<string, TestCard>([
  ['pm_card_visa', TEST_CARD_NUMBERS.get('4242424242424242')!],
  ['pm_card_visa_debit', TEST_CARD_NUMBERS.get('4000056655665556')!],
  ['pm_card_mastercard', TEST_CARD_NUMBERS.get('5555555555554444')!],
  ['pm_card_amex', TEST_CARD_NUMBERS.get('378282246310005')!],
  ['pm_card_discover', TEST_CARD_NUMBERS.get('6011111111111117')!],
  ['pm_card_chargeDeclined', TEST_CARD_NUMBERS.get('4000000000000002')!],
  ['pm_card_chargeDeclinedInsufficientFunds', TEST_CARD_NUMBERS.get('4000000000009995')!],
  ['pm_card_chargeDeclinedLostCard', TEST_CARD_NUMBERS.get('4000000000009987')!],
  ['pm_card_chargeDeclinedExpiredCard', TEST_CARD_NUMBERS.get('4000000000000069')!],
  ['pm_card_chargeDeclinedIncorrectCvc', TEST_CARD_NUMBERS.get('4000000000000127')!],
  ['pm_card_chargeDeclinedProcessingError', TEST_CARD_NUMBERS.get('4000000000000119')!],
  ['pm_card_authenticationRequired', TEST_CARD_NUMBERS.get('4000002760003184')!],
  ['pm_card_threeDSecure2Required', TEST_CARD_NUMBERS.get('4000000000003220')!],
]);

/** What the donor is told for each outcome (Stripe's wording), and the decline code returned. */
export const DECLINE_MESSAGES: Record<Exclude<CardOutcome, 'succeeds'>, string> = {
  generic_decline: 'Your card was declined.',
  insufficient_funds: 'Your card has insufficient funds.',
  lost_card: 'Your card was declined.',
  expired_card: 'Your card has expired.',
  incorrect_cvc: "Your card's security code is incorrect.",
  processing_error: 'An error occurred while processing your card. Try again in a little bit.',
  authentication_required: 'Your card was declined. This transaction requires authentication.',
};

/** Luhn check: a typo in a card number is a 400, not a decline. */
export function luhnValid(number: string): boolean {
  if (!/^\d{12,19}$/.test(number)) return false;
  let sum = 0;
  for (let i = 0; i < number.length; i++) {
    let d = Number(number[number.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Stripe's ACH test accounts (routing 110000000): how a bank debit settles. */
export type BankOutcome = 'succeeds' | 'no_account' | 'account_closed' | 'insufficient_funds';
export const TEST_ROUTING_NUMBER = '110000000';
export const TEST_BANK_ACCOUNTS: ReadonlyMap<string, BankOutcome> = new Map<string, BankOutcome>([
  ['000123456789', 'succeeds'],
  ['000111111116', 'no_account'],
  ['000111111113', 'account_closed'],
  ['000222222227', 'insufficient_funds'],
]);

/** The micro-deposit amounts (cents) that verify a sandbox bank account; anything else fails. */
export const MICRO_DEPOSITS = [32, 45] as const;
export const MAX_VERIFY_ATTEMPTS = 3;
/** How long a sandbox ACH debit takes to settle, by the partner's sandbox clock. */
export const ACH_SETTLEMENT_DAYS = 4;
