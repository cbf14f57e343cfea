package fieldbook

import java.nio.file.Files
import java.nio.file.Path
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/** Credit through the generated bindings: the report, the transaction card, and an approval only a manager's phone makes. */
class CreditTest {
    private lateinit var server: ScenarioServer
    private lateinit var dir: Path

    @BeforeEach
    fun start() {
        server = ScenarioServer(cardsPerTerritory = 2)
        dir = Files.createTempDirectory("fieldbook-credit")
    }

    @AfterEach
    fun stop() = server.close()

    private fun phone(name: String) = Fieldbook.open(dir.resolve("$name.db").toString(), null)

    private fun edit(path: String, value: String) = FieldEdit(path, value)

    @Test
    fun `a rep's phone cannot approve, the manager's can, and the rep sees it`() = runBlocking {
        val rep = phone("zhangwei")
        rep.enrol(server.url, server.token("zhangwei"))
        rep.sync(null)
        val id = rep.createCard(listOf(
            edit("basic.name", "杭州西湖食品批发部"), edit("territory", "east"),
            edit("basic.head_office", "杭州市西湖区"), edit("credit.requested_limit", "150000"),
            edit("credit.receivables", "120000"),
        ))
        val card = rep.transactionCard(id)
        assertEquals("总部所在地", card.items[1].label)
        assertEquals("杭州市西湖区", card.items[1].value)
        assertEquals("150000.00", card.requestedLimit)
        assertFalse(card.approved)
        assertTrue("credit.collection_terms" in card.missing)
        val line = rep.creditReport("2026-12-15").lines.single { it.cardId == id }
        assertEquals("over_limit", line.needsApproval)
        assertEquals("120000.00", line.exposure)

        // The rep's phone refuses, with the library's code; nothing is written.
        val refused = assertThrows<FieldbookException.AccessDenied> { rep.approveCredit(id, "150000", "自己批") }
        assertEquals("access.not_approver", refused.code)
        assertThrows<FieldbookException.AccessDenied> { rep.updateCard(id, listOf(edit("credit.approval_limit", "150000"))) }
        rep.sync(null)
        assertEquals(0uL, rep.status().pendingCards)

        // The manager approves on his phone; bad amounts are input errors.
        val manager = phone("wangjl")
        manager.enrol(server.url, server.token("wangjl", role = "manager", deviceName = "王经理的手机"))
        manager.sync(null)
        assertEquals("input.invalid_value", assertThrows<FieldbookException.InvalidInput> { manager.approveCredit(id, "-1", null) }.code)
        assertEquals("input.invalid_value", assertThrows<FieldbookException.InvalidInput> { manager.approveCredit(id, "99999999999", null) }.code)
        manager.approveCredit(id, "150000", "同意,月结")
        manager.sync(null)

        rep.sync(null)
        val approved = rep.transactionCard(id)
        assertTrue(approved.approved)
        assertEquals("150000.00", approved.approvedLimit)
        assertEquals("wangjl", approved.approvedBy)
        assertEquals("同意,月结", approved.approvalNote)
        assertEquals(null, rep.creditReport("2026-12-15").lines.single { it.cardId == id }.needsApproval)
        val entry = rep.history(id).last { it.fields.contains("credit.approval_limit") }
        assertEquals("wangjl", entry.rep)
        rep.close()
        manager.close()
    }
}
