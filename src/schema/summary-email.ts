import { Field, ObjectType } from 'type-graphql';
import type { SummaryEmailSettingView } from '../services/summary-email';

@ObjectType({ simpleResolvers: true, description: "Where a user's daily summaries are emailed." })
export class SummaryEmailSetting implements SummaryEmailSettingView {
  @Field() user!: string;
  @Field(() => String, { nullable: true, description: 'Null: the user no longer listed themself.' })
  address!: string | null;
}
